"""The settings pytest loads: the app's own (returns_console.settings) in the environment of a test run.

pytest-django imports settings before any conftest runs, so this is where the run's environment is set. It goes
into os.environ, so every process a test starts (Daphne, workers, `make run`) inherits it and they agree:
- a SECRET_KEY of this run's own, since DEBUG=false (the production default) refuses to start without one;
- HTTPS_ONLY=false: the tests speak plain HTTP to 127.0.0.1, where HTTPS redirects and Secure cookies cannot work.
Tests of the production settings set their own environment (tests/returns_console/test_security_settings.py).
"""

import os
import secrets

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("HTTPS_ONLY", "false")
# Children load the app's settings module itself, with the environment above.
os.environ["DJANGO_SETTINGS_MODULE"] = "returns_console.settings"

from returns_console.settings import *  # noqa: F403
