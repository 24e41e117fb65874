"""cuda_library: compiles .cu files with nvcc when the toolkit is present and not forced off.

Each .cu becomes a position-independent object through a genrule; the objects and the host
headers form a cc_library. When CUDA is unavailable (no toolkit, or --config=cpu) the target is an
empty library, and `cuda_enabled_select` lets dependants pick their CPU-only sources instead.
"""

load("@local_cuda//:defs.bzl", "CUDA_AVAILABLE", "NVCC")

# sm_90 (H100/H200) machine code plus PTX so newer GPUs can JIT it.
_NVCC_FLAGS = " ".join([
    "-O2",
    "-std=c++17",
    "-Xcompiler=-fPIC,-Wall,-Wextra",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
    "-I.",
])

def cuda_enabled_select(if_cuda, if_cpu_only):
    """A select() choosing `if_cuda` when CUDA code is built, `if_cpu_only` otherwise."""
    if not CUDA_AVAILABLE:
        return if_cpu_only
    return select({
        "//bazel:cuda_forced_off": if_cpu_only,
        "//conditions:default": if_cuda,
    })

def cuda_library(name, srcs, hdrs = [], cuda_hdrs = [], deps = [], **kwargs):
    """A cc_library whose .cu `srcs` are compiled by nvcc.

    Args:
      name: target name.
      srcs: .cu files.
      hdrs: host-visible headers (must not include CUDA headers).
      cuda_hdrs: headers only the .cu files include.
      deps: cc_library dependencies of the host side.
      **kwargs: passed to the cc_library.
    """
    objects = []
    if CUDA_AVAILABLE:
        for src in srcs:
            obj = name + "_" + src.replace("/", "_").replace(".cu", ".pic.o")
            native.genrule(
                name = obj + "_nvcc",
                srcs = [src] + hdrs + cuda_hdrs,
                outs = [obj],
                # Skipped by `//...` under --config=cpu so the CPU-only build never runs nvcc.
                target_compatible_with = select({
                    "//bazel:cuda_forced_off": ["@platforms//:incompatible"],
                    "//conditions:default": [],
                }),
                cmd = "{nvcc} {flags} -c $(location {src}) -o $@".format(
                    nvcc = NVCC,
                    flags = _NVCC_FLAGS,
                    src = src,
                ),
            )
            objects.append(obj)
    native.cc_library(
        name = name,
        srcs = cuda_enabled_select(objects, []),
        hdrs = hdrs,
        deps = deps + cuda_enabled_select(["@local_cuda//:cuda_runtime"], []),
        # Objects go straight into the binary, where the CUDA runtime's link options apply.
        linkstatic = True,
        **kwargs
    )
