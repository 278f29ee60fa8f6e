import os
import sys

# Tests import hubsetup from the checkout, the same code the image installs.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
