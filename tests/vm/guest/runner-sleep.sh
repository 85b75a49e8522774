# Guest side of the runner self-test: a script that never ends.
echo "runner-selftest: sleeping"
sleep 1000
