"""Stand-ins for hardware boundaries (NVML) that tests inject in place of the vendor library.

Import as `from tests.fakes import FakeNvml`.
"""

from .fake_pynvml import FakeNvml

__all__ = ["FakeNvml"]
