"""The smallest Django project that logs project generations with dihya-logging."""
