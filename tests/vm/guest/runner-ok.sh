# Guest side of the runner self-test: a run that behaves.
lsmod | grep -q '^ccid_selftest_good ' || { echo "module not loaded"; exit 1; }
rmmod ccid_selftest_good || exit 1
echo "runner-selftest: guest ran, uname $(uname -r)"
exit "${1:-0}"
