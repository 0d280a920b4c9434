// End to end: the report.html that `cellvae augment` wrote, rendered by headless Chromium
// (Debian's chromium package), shows something and makes no network request. Skipped when
// Chromium is not installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "../plot/png_check.hpp"
#include "report_test_util.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace fs = std::filesystem;

namespace {

/// The Chromium program, or "" when none is installed.
std::string chromium() {
  FILE* pipe = popen("command -v chromium || command -v chromium-browser", "r");
  if (!pipe) return "";
  char buf[512] = {0};
  std::string path = fgets(buf, sizeof buf, pipe) ? buf : "";
  pclose(pipe);
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  return path;
}

struct Rendered {
  int exit_code = -1;
  fs::path screenshot, net_log, log;
};

/// Opens `page` in headless Chromium with a fresh profile, a net log and a screenshot of a
/// 1200 x 3000 window. `timeout` keeps a hung browser from hanging the test.
Rendered render(const std::string& browser, const fs::path& page, const cvt::ScratchDir& dir,
                const std::string& name) {
  Rendered r;
  r.screenshot = dir / (name + ".png");
  r.net_log = dir / (name + "_netlog.json");
  r.log = dir / (name + "_chromium.log");
  const std::string cmd =
      "timeout 60 " + cvt::quoted(browser) +
      " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
      " --hide-scrollbars --user-data-dir=" +
      cvt::quoted(dir / (name + "_profile")) + " --log-net-log=" + cvt::quoted(r.net_log) +
      " --screenshot=" + cvt::quoted(r.screenshot) + " --window-size=1200,3000 " +
      cvt::quoted("file://" + fs::absolute(page).string()) + " > " + cvt::quoted(r.log) + " 2>&1";
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// URLs the page itself asked for, from Chromium's net log: every URL request that was started
/// for a document (its initiator is an origin, "null" for file: pages). The browser's own
/// traffic (update checks, sign-in, dictionaries; Chromium makes some even with
/// --disable-background-networking) has the initiator "not an origin" and is left out.
std::set<std::string> page_requests(const fs::path& net_log) {
  const nlohmann::json log = nlohmann::json::parse(cvt::read_text(net_log));
  const auto& types = log.at("constants").at("logEventTypes");
  const int start_job = types.at("URL_REQUEST_START_JOB").get<int>();
  std::set<std::string> urls;
  for (const auto& e : log.at("events")) {
    if (e.value("type", -1) != start_job || !e.contains("params")) continue;
    const auto& p = e.at("params");
    if (!p.contains("url")) continue;  // the job's end, with its error code only
    const std::string url = p.value("url", std::string());
    const std::string initiator = p.value("initiator", std::string());
    if (initiator == "not an origin") continue;
    if (url.rfind("data:", 0) == 0 || url.rfind("file:", 0) == 0) continue;
    urls.insert(url);
  }
  return urls;
}

}  // namespace

TEST(ReportBrowser, RendersOfflineWithoutNetworkRequests) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "chromium is not installed";
  const auto& run = cvt::augment_run();
  const fs::path page = run.run / "report.html";
  ASSERT_TRUE(fs::exists(page)) << run.augment.output;
  cvt::ScratchDir dir;

  // The check can see a page's requests: a page with an external picture is caught.
  const fs::path leaky = dir / "leaky.html";
  cvt::write_text(leaky,
                  "<!DOCTYPE html><html><body><p>x</p>"
                  "<img src=\"http://cellvae-report-test.invalid/x.png\"></body></html>");
  const Rendered control = render(browser, leaky, dir, "leaky");
  ASSERT_EQ(control.exit_code, 0) << cvt::read_text(control.log);
  const auto leaked = page_requests(control.net_log);
  EXPECT_EQ(leaked.count("http://cellvae-report-test.invalid/x.png"), 1u)
      << "the net log check does not see page requests";

  const Rendered shot = render(browser, page, dir, "report");
  ASSERT_EQ(shot.exit_code, 0) << cvt::read_text(shot.log);
  ASSERT_TRUE(fs::exists(shot.screenshot)) << cvt::read_text(shot.log);
  const auto requests = page_requests(shot.net_log);
  std::string listed;
  for (const auto& u : requests) listed += u + "\n";
  EXPECT_TRUE(requests.empty()) << "the report made network requests:\n" << listed;

  // Not blank: the header band, text, tables and the figures give many colours and much ink.
  const cvt::DecodedPng png(shot.screenshot);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 1200);
  EXPECT_EQ(png.height(), 3000);
  EXPECT_GT(png.distinct_colors(), 500u);
  const std::size_t ink = png.ink(0, 0, png.width(), png.height());
  EXPECT_GT(ink, static_cast<std::size_t>(png.width()) * png.height() / 20);
  // The lower part of the window holds figures too, not only the top.
  EXPECT_GT(png.ink(0, 1500, png.width(), 3000), 30000u);
}
