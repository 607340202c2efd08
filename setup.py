"""Builds the optional native twin of the XML scan and the event numbers (``rallypoint.cot._native``).

Everything else is declared in ``pyproject.toml``. The extension is ``optional``: without a C
compiler, Python headers or libexpat's headers the build says so and the install goes on, and
``rallypoint.cot.hotpath`` then uses the pure-Python scan.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rallypoint.cot._native",
            sources=["src/rallypoint/cot/_native.c", "src/rallypoint/cot/_numbers.c"],
            libraries=["expat"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            optional=True,
        )
    ]
)
