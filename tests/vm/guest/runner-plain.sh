# Guest side of the runner self-test: a script that succeeds; only the
# kernel log can fail the run.
echo "runner-selftest: plain script done"
exit 0
