// render_html: the report as one HTML5 document with its style sheet inline, figures as data:
// URIs and no script. A Content-Security-Policy meta tag tells the browser to load nothing
// but data: images, so even a slip in here cannot make the page reach out.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"

#include "cellvae/report/html.hpp"
#include "cellvae/report/report.hpp"

namespace cellvae::report {

namespace {

constexpr const char* kStyle = R"css(
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #f6f8fa; --accent: #0b6bcb;
        --good: #1a7f37; --good-bg: #dafbe1; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif; }
header { background: #12263f; color: #fff; padding: 22px 32px 18px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; color: #c5d3e6; font-size: 13px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line);
      padding: 8px 32px; font-size: 14px; z-index: 1; }
nav a { color: var(--accent); text-decoration: none; margin-right: 18px; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 32px 40px; }
section { padding-top: 12px; border-bottom: 1px solid var(--line); padding-bottom: 18px; }
h2 { font-size: 20px; margin: 14px 0 6px; }
p.summary { color: var(--muted); margin: 4px 0 12px; max-width: 75ch; }
p.note { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 6px 10px; margin: 8px 0;
         max-width: 90ch; }
code { background: var(--band); padding: 1px 4px; border-radius: 3px; font-size: 13px; }
.tables { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13.5px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
         vertical-align: top; }
table.fields th { color: var(--muted); font-weight: 500; white-space: nowrap; }
table.fields td { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
                  font-size: 12.5px; overflow-wrap: anywhere; }
table.metrics { width: 100%; }
table.metrics thead th { background: var(--band); border-bottom: 2px solid var(--line); }
table.metrics tr.group th { background: var(--band); color: var(--ink); padding-top: 8px; }
table.metrics td.num { text-align: right; font-variant-numeric: tabular-nums;
                       white-space: nowrap; }
table.metrics td.good { color: var(--good); background: var(--good-bg); }
table.metrics td.meaning { color: var(--muted); font-size: 12.5px; }
figure { margin: 10px 0 14px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 16px; }
)css";

/// Escaped text where `backquoted` spans become <code>.
std::string prose(const std::string& text) {
  const std::string escaped = html_escape(text);
  std::string out;
  bool open = false;
  for (const char c : escaped) {
    if (c == '`') {
      out += open ? "</code>" : "<code>";
      open = !open;
    } else {
      out += c;
    }
  }
  if (open) out += "</code>";
  return out;
}

std::string number(const std::optional<double>& v, int digits) {
  if (!v) return "—";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, *v);
  return buf;
}

void render_fields(std::ostringstream& os, const FieldTable& t) {
  os << "<table class=\"fields\">";
  if (!t.caption.empty()) os << "<caption>" << html_escape(t.caption) << "</caption>";
  for (const auto& f : t.rows)
    os << "<tr><th>" << html_escape(f.key) << "</th><td>" << html_escape(f.value) << "</td></tr>";
  os << "</table>\n";
}

void render_image(std::ostringstream& os, const ReportImage& image) {
  os << "<figure>";
  if (image.mime == "image/svg+xml")
    os << "<div role=\"img\" aria-label=\"" << html_escape(image.alt) << "\">"
       << inline_svg(image.bytes) << "</div>";
  else
    os << "<img src=\"" << data_uri(image.mime, image.bytes) << "\" alt=\""
       << html_escape(image.alt) << "\">";
  os << "<figcaption>" << html_escape(image.alt) << "</figcaption></figure>\n";
}

void render_metrics(std::ostringstream& os, const std::vector<MetricRow>& rows) {
  os << "<table class=\"metrics\"><thead><tr><th>Metric</th><th>Generated</th>"
        "<th>Control (real vs real)</th><th>Ideal</th><th>What it measures</th></tr></thead>"
        "<tbody>\n";
  std::string group;
  for (const auto& r : rows) {
    if (r.group != group) {
      group = r.group;
      os << "<tr class=\"group\"><th colspan=\"5\">" << html_escape(group) << "</th></tr>\n";
    }
    const bool good = r.as_good_as_control.value_or(false);
    os << "<tr><td>" << html_escape(r.name) << "</td><td class=\"num" << (good ? " good" : "")
       << "\"" << (good ? " title=\"at least as close to the ideal as the control\"" : "") << ">"
       << number(r.generated, r.digits) << (good ? " ✓" : "") << "</td><td class=\"num\">"
       << number(r.control, r.digits) << "</td><td class=\"num\">" << html_escape(r.ideal)
       << "</td><td class=\"meaning\">" << html_escape(r.meaning) << "</td></tr>\n";
  }
  os << "</tbody></table>\n";
}

}  // namespace

std::string render_html(const RunReport& report) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">\n"
     << "<title>" << html_escape(report.title) << "</title>\n<style>" << kStyle
     << "</style>\n</head>\n<body>\n<header><h1>" << html_escape(report.title) << "</h1><p>"
     << html_escape(report.run_dir.string()) << "</p></header>\n<nav>";
  for (const auto& s : report.sections)
    os << "<a href=\"#" << html_escape(s.id) << "\">" << html_escape(s.title) << "</a>";
  os << "</nav>\n<main>\n";
  for (const auto& s : report.sections) {
    os << "<section id=\"" << html_escape(s.id) << "\">\n<h2>" << html_escape(s.title) << "</h2>\n";
    if (!s.summary.empty()) os << "<p class=\"summary\">" << prose(s.summary) << "</p>\n";
    for (const auto& n : s.notes) os << "<p class=\"note\">" << prose(n) << "</p>\n";
    for (const auto& image : s.images) render_image(os, image);
    if (!s.tables.empty()) {
      os << "<div class=\"tables\">\n";
      for (const auto& t : s.tables) render_fields(os, t);
      os << "</div>\n";
    }
    if (!s.metrics.empty()) render_metrics(os, s.metrics);
    os << "</section>\n";
  }
  os << "</main>\n<footer>Written by <code>cellvae report</code>. This page is self-contained: "
        "it loads nothing from anywhere else.</footer>\n</body>\n</html>\n";
  return os.str();
}

RunReport write_run_report(const std::filesystem::path& run_dir,
                           const std::filesystem::path& output, const ReportOptions& options) {
  RunReport report = gather_run_report(run_dir, options);
  const std::string html = render_html(report);
  AtomicOutput out(output);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f << html;
    if (!f) throw InputError("cannot write " + output.string());
  }
  out.commit();
  return report;
}

}  // namespace cellvae::report
