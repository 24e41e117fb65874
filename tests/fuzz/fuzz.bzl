"""ps_fuzz_target: one libFuzzer target, built two ways.

`NAME` is the fuzzer: under `--config=fuzz` (clang-14 with libFuzzer and ASan) it links
libFuzzer's main; otherwise it links replay_main.cc so that it still builds everywhere.
`NAME_corpus_test` runs the target over its seed corpus in the ordinary test suite (fast), so a
regression on a known input fails CI.
"""

def ps_fuzz_target(name, srcs, deps, corpus):
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps + select({
            "//tests/fuzz:fuzzing": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
        linkopts = select({
            "//tests/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
    )
    native.cc_test(
        name = name + "_corpus_test",
        size = "small",
        srcs = srcs,
        deps = deps + ["//tests/fuzz:replay_main"],
        data = native.glob([corpus + "/**"]),
        args = ["$(location %s)" % f for f in native.glob([corpus + "/**"])],
    )
