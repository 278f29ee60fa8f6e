"""Servers and kernels forked from pre-loaded root processes (the factories) instead of each
importing everything again: `servers` and `kernels` are the factories, `forking` what they
share with the process spawner, `keeper` starts them, `client` asks them, and
`kernel_provisioner` is the servers' side of the kernel factory."""
