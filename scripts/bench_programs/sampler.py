"""Runs in the container: one JSON line per interval with the RSS and CPU time of the hub, the proxy,
each user's server and kernels ([rss bytes, CPU s, processes]), the container's memory (cgroup)
and the machine's busy CPU seconds (/proc/stat is not namespaced). Stops at its
deadline, at EOF on stdin, or when nobody reads its output.

Run by scripts/bench.py inside a container, read from this file."""
