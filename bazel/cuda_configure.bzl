"""Detects the CUDA toolkit at fetch time and generates the @local_cuda repository.

The toolkit is looked up at $CUDA_HOME, then /usr/local/cuda. @local_cuda//:defs.bzl exports
CUDA_AVAILABLE (bool), NVCC (path) and CUDA_HOME; @local_cuda//:cuda_runtime links cudart and cuBLAS.
Without a toolkit CUDA_AVAILABLE is False and the build produces the CPU-only variant.
"""

def _find_cuda_home(repository_ctx):
    candidates = []
    env_home = repository_ctx.os.environ.get("CUDA_HOME", "")
    if env_home:
        candidates.append(env_home)
    candidates.append("/usr/local/cuda")
    for home in candidates:
        if repository_ctx.path(home + "/bin/nvcc").exists:
            return home
    return None

def _cuda_configure_impl(repository_ctx):
    home = _find_cuda_home(repository_ctx)
    if home == None:
        repository_ctx.file("defs.bzl", "CUDA_AVAILABLE = False\nNVCC = \"\"\nCUDA_HOME = \"\"\n")
        repository_ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])
cc_library(name = "cuda_runtime")
""")
        return
    repository_ctx.file("defs.bzl", "CUDA_AVAILABLE = True\nNVCC = \"{home}/bin/nvcc\"\nCUDA_HOME = \"{home}\"\n".format(home = home))
    repository_ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])
cc_library(
    name = "cuda_runtime",
    linkopts = [
        "-L{home}/lib64",
        "-Wl,-rpath,{home}/lib64",
        "-lcublas",
        "-lcudart",
        "-ldl",
        "-lrt",
        "-pthread",
    ],
)
""".format(home = home))

cuda_configure = repository_rule(
    implementation = _cuda_configure_impl,
    environ = ["CUDA_HOME"],
    local = True,
)
