"""Runs in a throwaway container of the image (root, no network): writes a generated accounts.csv,
times `hubsetup accounts sync` cold, as a no-op and with changed rows, and times the per-user
useradd + chpasswd approach on samples, with few and with many users already in /etc/passwd.
Progress goes to stderr; the last stdout line is the JSON result.

Run by scripts/bench.py inside a container, read from this file."""
