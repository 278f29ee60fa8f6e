"""LTI: launches from an LMS, and grades back to it.

Shared by every protocol: `rules` (next, origins, roles), `names` (logins and course ids),
`launch` (a Launch mapped to a user and course in the registry), `framed_launch` (the page shown
inside an LMS frame). LTI 1.1: `lti11` (fields), `lti11_validator` (signatures, nonces),
`consumers` (keys and secrets), `lti11_outcomes` (grades back). hubsetup.auth is the
authenticator that puts them behind JupyterHub's handlers.
"""
