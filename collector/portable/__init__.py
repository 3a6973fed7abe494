"""The checking code a bundle's reader runs: record chain, Merkle proofs, signed notes, proof
files and the bundle checks, shipped inside every bundle as its `verify.py`.

Rule, stated once and tested (tests/test_import_contract.py): a module here imports the
standard library and other modules of this package only, at its top level. The bundle's
`verify.py` is these sources concatenated (reports/bundle/verify_script.py), so one import
from anywhere else would break the script on a stranger's machine.

`errors` holds the one exception tree of the whole program, here so the verifier's errors
belong to it too; every package may import that module, and it imports nothing of ours.
"""
