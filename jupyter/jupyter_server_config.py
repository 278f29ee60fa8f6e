# Settings for every user server the hub starts (frame-ancestors and the like), from hubsetup.
from hubsetup.singleuser import configure

configure(get_config())  # noqa: F821 (provided by traitlets' config loader)
