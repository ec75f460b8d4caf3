{
  "targets": [
    {
      "target_name": "http_tracer",
      "sources": [
        "native/addon.cc",
        "native/tracer.cc",
        "native/layout.cc",
        "native/libbpf-log.cc",
        "native/system.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "bpf/.output",
        "bpf/include"
      ],
      "libraries": ["<!@(node scripts/addon-link-flags.js)"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
    }
  ]
}
