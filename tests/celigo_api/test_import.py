"""celigo_api must work where Django is not installed: it imports nothing from Django.

(docs/architecture.md "Packages")
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_imports_without_django() -> None:
    script = textwrap.dedent(
        """
        import sys

        class BlockDjango:
            def find_spec(self, name, path=None, target=None):
                if name == "django" or name.startswith("django.") or name.startswith("rest_framework"):
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, BlockDjango())
        import celigo_api
        from celigo_api import CeligoClient, RedisLimiter, FileLimiter, InProcessLimiter

        CeligoClient("t", base_url="http://127.0.0.1:1")
        loaded = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
        assert not loaded, loaded
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_it_really_blocks_django_in_that_check() -> None:
    script = (
        "import sys\n"
        "class B:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'django': raise ImportError(name)\n"
        "sys.meta_path.insert(0, B())\n"
        "import django\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
