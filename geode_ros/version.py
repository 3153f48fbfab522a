"""Single source of the package version (setup.py, package.xml check, --version)."""

__version__ = '0.1.0'
