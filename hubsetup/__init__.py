"""hubsetup: accounts, authentication, nbgrader courses and grades for a teaching JupyterHub."""
