"""Password hashing with the system's libcrypt (libxcrypt), the library PAM itself verifies with.

Python 3.13 removed the `crypt` module; calling libcrypt directly keeps the hashes exactly
what `pam_unix` expects, and `crypt_rn` is re-entrant, so hashing can run on several threads.
"""

import ctypes
import re
from concurrent.futures import ThreadPoolExecutor

_CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt
_GENSALT_OUTPUT_SIZE = 192  # CRYPT_GENSALT_OUTPUT_SIZE

#: Hash prefixes (`$id$`) accepted in accounts.csv and the method names that select them.
METHODS = {"sha512": "$6$", "yescrypt": "$y$", "sha256": "$5$", "bcrypt": "$2b$"}

_CRYPT_HASH = re.compile(r"^\$(1|5|6|y|gy|7|2[abxy])\$[./A-Za-z0-9$=,]+$")
# Full hashes of the common methods, recognised by shape alone: checking a hash by hashing with
# it costs as much as hashing a password (milliseconds), too slow for thousands of rows.
_B64 = "[./A-Za-z0-9]"
_KNOWN_SHAPES = re.compile(
    rf"^(\$6\$(rounds=[0-9]+\$)?{_B64}{{1,16}}\${_B64}{{86}}"
    rf"|\$5\$(rounds=[0-9]+\$)?{_B64}{{1,16}}\${_B64}{{43}}"
    rf"|\$y\${_B64}+\${_B64}{{1,86}}\${_B64}{{43}}"
    rf"|\$2[abxy]\$[0-9]{{2}}\${_B64}{{53}})$"
)

_libcrypt = ctypes.CDLL("libcrypt.so.1", use_errno=True)
_libcrypt.crypt_rn.restype = ctypes.c_char_p
_libcrypt.crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
_libcrypt.crypt_gensalt_rn.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt_rn.argtypes = [
    ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
]


def crypt(password, setting):
    """Hash `password` with `setting` (a salt string or a full hash); None if libcrypt refuses."""
    data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    result = _libcrypt.crypt_rn(password.encode(), setting.encode(), data, _CRYPT_DATA_SIZE)
    if not result or result.startswith(b"*"):
        return None
    return result.decode()


def new_salt(method="sha512"):
    output = ctypes.create_string_buffer(_GENSALT_OUTPUT_SIZE)
    salt = _libcrypt.crypt_gensalt_rn(
        METHODS[method].encode(), 0, None, 0, output, _GENSALT_OUTPUT_SIZE
    )
    if not salt:
        raise OSError(ctypes.get_errno(), f"libcrypt cannot make a {method} salt")
    return salt.decode()


def hash_password(password, method="sha512"):
    return crypt(password, new_salt(method))


def hash_many(passwords, method="sha512", workers=None):
    """Hash a list of passwords, in order, on `workers` threads (ctypes releases the GIL)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: hash_password(p, method), passwords))


def looks_like_hash(value):
    return bool(_CRYPT_HASH.match(value))


def is_valid_hash(value):
    """True if `value` is a crypt hash this system's libcrypt can verify passwords against."""
    if not looks_like_hash(value):
        return False
    if _KNOWN_SHAPES.match(value):
        return True
    # A bare setting such as "$6$salt" also hashes; a full hash re-hashes to its own shape.
    rehashed = crypt("probe", value)
    return (
        rehashed is not None
        and len(rehashed) == len(value)
        and rehashed.rsplit("$", 1)[0] == value.rsplit("$", 1)[0]
    )


def verify(password, hashed):
    return crypt(password, hashed) == hashed
