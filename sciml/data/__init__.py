"""Datasets: the sciml HDF5 format, PDEBench readers, splits and normalizers."""

from __future__ import annotations

from sciml.data.hdf5 import FORMAT, FORMAT_VERSION, H5Dataset, ensure_dataset, split_indices, write_dataset
from sciml.data.normalize import IdentityNormalizer, UnitGaussianNormalizer
from sciml.data.pdebench import convert_pdebench_darcy, read_pdebench_darcy

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "H5Dataset",
    "write_dataset",
    "split_indices",
    "ensure_dataset",
    "read_pdebench_darcy",
    "convert_pdebench_darcy",
    "UnitGaussianNormalizer",
    "IdentityNormalizer",
]
