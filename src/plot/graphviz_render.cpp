// render_dot: DOT text laid out by Graphviz's dot engine and rendered to SVG, PNG or PDF bytes
// through libgvc's C API.
#include <dlfcn.h>
#include <graphviz/gvc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/plot/architecture.hpp"

namespace cellvae::plot {

namespace {

// Graphviz keeps global state (the error handler, cgraph's parser, the plugin registry): one
// caller at a time.
std::mutex& graphviz_mutex() {
  static std::mutex m;
  return m;
}

// Graphviz reports errors and warnings through agerr, which prints to stderr unless a handler
// is set; a library must not print, so the messages are collected for the exceptions.
std::string& captured_messages() {
  static std::string messages;
  return messages;
}

int collect_message(char* text) {
  captured_messages() += text;
  return 0;
}

/// Routes Graphviz's messages to captured_messages() while alive; restores the previous
/// handler and level after.
class MessageCapture {
 public:
  MessageCapture()
      : previous_handler_(agseterrf(collect_message)), previous_level_(agseterr(AGWARN)) {
    captured_messages().clear();
    agreseterrors();
  }
  ~MessageCapture() {
    agseterrf(previous_handler_);
    agseterr(previous_level_);
  }
  MessageCapture(const MessageCapture&) = delete;
  MessageCapture& operator=(const MessageCapture&) = delete;

  /// The messages so far, on one line each, without trailing whitespace.
  static std::string text() {
    std::string s = captured_messages();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

 private:
  agusererrf previous_handler_;
  agerrlevel_t previous_level_;
};

struct ContextDeleter {
  void operator()(GVC_t* gvc) const { gvFreeContext(gvc); }
};
using Context = std::unique_ptr<GVC_t, ContextDeleter>;

struct GraphDeleter {
  void operator()(Agraph_t* g) const { agclose(g); }
};

/// The names of the plugins of one kind ("layout", "device", "render") a context has.
std::vector<std::string> plugin_names(GVC_t* gvc, const char* kind) {
  int n = 0;
  char** list = gvPluginList(gvc, kind, &n, nullptr);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    names.emplace_back(list[i]);
    std::free(list[i]);
  }
  std::free(list);
  return names;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// The Graphviz device string of a format: Graphviz's own SVG writer (text stays text, small
/// files), and Cairo (antialiased, with pango's text layout) for PNG and PDF.
const char* device_of(ImageFormat format) {
  switch (format) {
    case ImageFormat::svg:
      return "svg";
    case ImageFormat::png:
      return "png:cairo";
    case ImageFormat::pdf:
      return "pdf:cairo";
  }
  return "svg";
}

/// Whether a context can lay out with dot and render `format`.
bool can_render(GVC_t* gvc, ImageFormat format) {
  if (!has(plugin_names(gvc, "layout"), "dot")) return false;
  const std::vector<std::string> devices = plugin_names(gvc, "device");
  switch (format) {
    case ImageFormat::svg:
      return has(devices, "svg");
    case ImageFormat::png:
    case ImageFormat::pdf:
      return has(devices, std::string(to_string(format))) &&
             has(plugin_names(gvc, "render"), "cairo");
  }
  return false;
}

/// The core, dot-layout and pango plugins, opened from the plugin folder next to libgvc, as
/// the built-in list gvContextPlugins takes. Needed where gvContext() finds no plugins: it
/// loads them on demand from a configuration file (config6a) that Debian's libgvc6 writes when
/// installed, and that a copied or unpacked Graphviz may lack. Opened once and kept open.
const lt_symlist_t* bundled_plugins() {
  static std::vector<lt_symlist_t> symbols = [] {
    std::vector<lt_symlist_t> list;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&gvContext), &info) == 0 || !info.dli_fname) {
      list.push_back({nullptr, nullptr});
      return list;
    }
    std::string folder = info.dli_fname;
    folder = folder.substr(0, folder.rfind('/') + 1) + "graphviz/";
    static const char* const kPlugins[] = {"core", "dot_layout", "pango"};
    static std::vector<std::string> names;  // lt_symlist_t keeps pointers to them
    names.reserve(3);
    for (const char* plugin : kPlugins) {
      void* handle =
          dlopen((folder + "libgvplugin_" + plugin + ".so.6").c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) continue;
      names.push_back(std::string("gvplugin_") + plugin + "_LTX_library");
      void* address = dlsym(handle, names.back().c_str());
      if (address) list.push_back({names.back().c_str(), address});
    }
    list.push_back({nullptr, nullptr});
    return list;
  }();
  return symbols.data();
}

/// A context that can render `format`: the configured plugins, else the bundled ones.
Context context_for(ImageFormat format) {
  Context gvc(gvContext());
  if (gvc && can_render(gvc.get(), format)) return gvc;
  gvc.reset(gvContextPlugins(bundled_plugins(), 0));
  if (gvc && can_render(gvc.get(), format)) return gvc;
  if (format == ImageFormat::svg)
    throw InputError(
        "Graphviz cannot lay out or write SVG here: its dot layout and core plugins were not "
        "found (is Debian's libgvc6 installed?)");
  throw InputError("Graphviz cannot write " + std::string(to_string(format)) +
                   " here: its cairo renderer (the pango plugin of libgvc6) was not found; "
                   "choose .svg instead");
}

}  // namespace

std::string render_dot(const std::string& dot, ImageFormat format) {
  std::lock_guard<std::mutex> lock(graphviz_mutex());
  MessageCapture capture;
  Context gvc = context_for(format);

  std::unique_ptr<Agraph_t, GraphDeleter> graph(agmemread(dot.c_str()));
  if (!graph) {
    const std::string why = MessageCapture::text();
    throw InputError("invalid DOT text: " + (why.empty() ? std::string("no graph in it") : why));
  }
  Agraph_t* g = graph.get();
  if (format == ImageFormat::png) {
    const char* dpi = agget(g, const_cast<char*>("dpi"));
    if (!dpi || !*dpi)
      agsafeset(g, const_cast<char*>("dpi"),
                const_cast<char*>(std::to_string(static_cast<int>(72 * kPngScale)).c_str()),
                const_cast<char*>(""));
  }
  if (gvLayout(gvc.get(), g, "dot") != 0)
    throw InputError("Graphviz could not lay out the graph: " + MessageCapture::text());
  char* data = nullptr;
  unsigned int length = 0;
  const int rc = gvRenderData(gvc.get(), g, device_of(format), &data, &length);
  std::string bytes;
  if (rc == 0 && data) {
    bytes.assign(data, length);
    gvFreeRenderData(data);
  }
  gvFreeLayout(gvc.get(), g);
  if (rc != 0 || bytes.empty())
    throw InputError("Graphviz could not render " + std::string(to_string(format)) + ": " +
                     MessageCapture::text());
  return bytes;
}

}  // namespace cellvae::plot
