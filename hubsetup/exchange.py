"""nbgrader's exchange, for an exchange whose root only root may write.

nbgrader wants the exchange root world-writable: every exchange operation checks that the user
may write it, and release chmods it to 0777. A world-writable root lets any student create a
course's folder before the course exists, and own it. Here root makes every course's exchange
folders (hubsetup.courses) and the root stays 0755: each operation needs only to enter it. The
factory's classes are nbgrader's own with that one check changed (nbgrader_setup names them).
"""

from nbgrader.exchange.default import (
    ExchangeCollect, ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeList, ExchangeReleaseAssignment,
    ExchangeReleaseFeedback, ExchangeSubmit,
)
from nbgrader.utils import check_directory


class RootOwnedRoot:
    def ensure_root(self):
        if not check_directory(self.root, read=True, execute=True):
            self.fail(f"The exchange {self.root} is missing or closed: ask the hub's admin.")


class Collect(RootOwnedRoot, ExchangeCollect):
    pass


class FetchAssignment(RootOwnedRoot, ExchangeFetchAssignment):
    pass


class FetchFeedback(RootOwnedRoot, ExchangeFetchFeedback):
    pass


class List(RootOwnedRoot, ExchangeList):
    pass


class ReleaseAssignment(RootOwnedRoot, ExchangeReleaseAssignment):
    pass


class ReleaseFeedback(RootOwnedRoot, ExchangeReleaseFeedback):
    pass


class Submit(RootOwnedRoot, ExchangeSubmit):
    pass


# ExchangeFactory's setting -> our class.
FACTORY = {
    "collect": Collect, "fetch_assignment": FetchAssignment, "fetch_feedback": FetchFeedback, "list": List,
    "release_assignment": ReleaseAssignment, "release_feedback": ReleaseFeedback, "submit": Submit,
}
