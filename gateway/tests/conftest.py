import importlib
import sys

for _name in ("gateway", "shared"):
    _mod = sys.modules.get(_name)
    if _mod is not None and getattr(_mod, "__file__", None) is None:
        del sys.modules[_name]
    importlib.import_module(_name)
