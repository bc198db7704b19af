"""Build hook for the one compiled part of Safehold: ``safehold.index._kernels`` (C, see
``src/safehold/index/_kernels.c`` and decision record 0005). Everything else about the
package is declared in ``pyproject.toml``."""

import sys

from setuptools import Extension, setup

COMPILE_ARGS = ["/O2"] if sys.platform == "win32" else ["-O3", "-std=c11", "-fno-strict-aliasing"]

setup(
    ext_modules=[
        Extension(
            "safehold.index._kernels",
            sources=["src/safehold/index/_kernels.c"],
            depends=[
                "src/safehold/index/_kernels_common.h",
                "src/safehold/index/_kernels_flavours.h",
                "src/safehold/index/_kernels_impl.h",
            ],
            extra_compile_args=COMPILE_ARGS,
        )
    ]
)
