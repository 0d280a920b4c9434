// The report of an augment run: every section, nothing external, pictures that decode, missing
// pieces reported as such, and `cellvae report` / `cellvae augment --no-report` on the command
// line.
#include <gtest/gtest.h>

#include <fstream>

#include "../plot/png_check.hpp"
#include "cellvae/report/report.hpp"
#include "report_test_util.hpp"
#include "test_support.hpp"

namespace cr = cellvae::report;
namespace cvt = cellvae::testing;
namespace fs = std::filesystem;

namespace {
using cvt::contains;
using cvt::quoted;

const char* const kSectionIds[] = {
    "summary", "configuration", "architecture", "training", "embedding", "qc", "metrics"};

/// A copy of the fixture's run folder to change.
fs::path copy_run(const cvt::ScratchDir& dir) {
  const fs::path copy = dir / "run";
  fs::copy(cvt::augment_run().run, copy, fs::copy_options::recursive);
  return copy;
}

std::string all_notes(const cr::Section& s) {
  std::string text;
  for (const auto& n : s.notes) text += n + "\n";
  return text;
}
}  // namespace

TEST(Report, AugmentWritesItIntoTheRunFolder) {
  const auto& run = cvt::augment_run();
  const fs::path page = run.run / "report.html";
  ASSERT_TRUE(fs::exists(page)) << run.augment.output;
  EXPECT_FALSE(contains(run.augment.output, "report.html not written")) << run.augment.output;
  const std::string html = cvt::read_text(page);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : kSectionIds)
    EXPECT_TRUE(contains(html, std::string("<section id=\"") + id + "\">")) << id;
}

TEST(Report, ASmallRunHasEverySectionFilledIn) {
  const auto& run = cvt::augment_run();
  const cr::RunReport report = cr::gather_run_report(run.run);
  ASSERT_EQ(report.sections.size(), std::size(kSectionIds));
  for (std::size_t i = 0; i < report.sections.size(); ++i) {
    const cr::Section& s = report.sections[i];
    EXPECT_EQ(s.id, kSectionIds[i]);
    EXPECT_FALSE(s.title.empty()) << s.id;
    // A complete run folder: nothing is missing (the metrics section keeps its standing note
    // on memorisation).
    if (s.id != "metrics") {
      EXPECT_TRUE(s.notes.empty()) << s.id << ": " << all_notes(s);
    }
  }
  EXPECT_TRUE(report.warnings.empty()) << report.warnings.front();

  // Summary and configuration come from augment.json and model.json.
  std::string summary;
  for (const auto& f : report.section("summary")->tables.at(0).rows)
    summary += f.key + " = " + f.value + "\n";
  EXPECT_TRUE(contains(summary, "real cells = 400 (")) << summary;
  EXPECT_TRUE(contains(summary, "held out for testing)")) << summary;
  EXPECT_TRUE(contains(summary, "generated cells = 300")) << summary;
  EXPECT_TRUE(contains(summary, "labels = 'group': 3")) << summary;
  EXPECT_TRUE(contains(summary, "sim.h5ad")) << summary;
  std::string config;
  for (const auto& t : report.section("configuration")->tables)
    for (const auto& f : t.rows) config += f.key + " = " + f.value + "\n";
  EXPECT_TRUE(contains(config, "latent_dim = 10")) << config;
  EXPECT_TRUE(contains(config, "epochs = 6")) << config;
  EXPECT_TRUE(contains(config, "label_key = group")) << config;
  // The architecture as Graphviz's SVG, inlined into the page.
  const auto& diagram = report.section("architecture")->images;
  ASSERT_EQ(diagram.size(), 1u) << all_notes(*report.section("architecture"));
  EXPECT_EQ(diagram[0].mime, "image/svg+xml");
  EXPECT_TRUE(contains(diagram[0].bytes, "encoder")) << diagram[0].bytes.substr(0, 400);

  // Figures: the training curves, the embedding by origin and by label, the QC panels.
  EXPECT_EQ(report.section("training")->images.size(), 1u);
  EXPECT_EQ(report.section("embedding")->images.size(), 2u);
  EXPECT_EQ(report.section("qc")->images.size(), 1u);

  // Metrics: the generated column and the real-vs-real control beside it.
  const auto& rows = report.section("metrics")->metrics;
  ASSERT_GT(rows.size(), 20u);
  int with_both = 0, verdicts = 0;
  for (const auto& r : rows) {
    EXPECT_FALSE(r.meaning.empty()) << r.name;
    if (r.generated && r.control) ++with_both;
    if (r.as_good_as_control) ++verdicts;
    if (r.group.rfind("Memorisation", 0) == 0) {
      EXPECT_TRUE(r.generated.has_value()) << r.name;
      EXPECT_FALSE(r.control.has_value()) << r.name;  // the control cells are training cells
    }
  }
  EXPECT_GT(with_both, 15);
  int scored_pairs = 0;  // context rows (cell counts, medians) have no ideal to be closer to
  for (const auto& r : rows)
    if (r.generated && r.control && r.better != cr::Better::none) ++scored_pairs;
  EXPECT_EQ(verdicts, scored_pairs);
  EXPECT_GT(scored_pairs, 15);
  bool found_auc = false;
  for (const auto& r : rows)
    if (r.name == "random forest AUC" && r.group.rfind("Joint", 0) == 0) {
      found_auc = true;
      EXPECT_EQ(r.ideal, "0.5");
      ASSERT_TRUE(r.control.has_value());
      EXPECT_GE(*r.control, 0.0);
      EXPECT_LE(*r.control, 1.0);
    }
  EXPECT_TRUE(found_auc);
}

TEST(Report, PageIsSelfContained) {
  const auto& run = cvt::augment_run();
  const std::string html = cvt::read_text(run.run / "report.html");
  // Every src and href stays in the page: embedded data or an anchor.
  const auto srcs = cvt::attribute_values(html, "src");
  EXPECT_GE(srcs.size(), 4u);
  for (const auto& v : srcs) EXPECT_EQ(v.rfind("data:", 0), 0u) << v.substr(0, 80);
  const auto hrefs = cvt::attribute_values(html, "href");
  EXPECT_EQ(hrefs.size(), std::size(kSectionIds));
  for (const auto& v : hrefs) EXPECT_EQ(v.rfind("#", 0), 0u) << v;
  // No URL at all, no script, no style sheet or font from elsewhere (base64 data may hold
  // "//", so the data are taken out first).
  std::string text = html;
  for (const auto& v : srcs) text.replace(text.find(v), v.size(), "DATA");
  for (const char* banned : {"http://", "https://", "//", "<script", "<link", "@import", "url(",
                             "<iframe", "<object", "<embed", "<?xml", "<!DOCTYPE svg"})
    EXPECT_FALSE(contains(text, banned)) << banned;
  // The page tells the browser to load nothing else.
  EXPECT_TRUE(contains(html, "default-src 'none'; img-src data:"));
}

TEST(Report, EmbeddedPicturesDecode) {
  const auto& run = cvt::augment_run();
  const std::string html = cvt::read_text(run.run / "report.html");
  cvt::ScratchDir dir;
  int n = 0;
  for (const auto& src : cvt::attribute_values(html, "src")) {
    const std::string prefix = "data:image/png;base64,";
    ASSERT_EQ(src.rfind(prefix, 0), 0u) << src.substr(0, 40);
    const fs::path png = dir / ("image" + std::to_string(n++) + ".png");
    cvt::write_text(png, cvt::base64_decode(src.substr(prefix.size())));
    ASSERT_TRUE(cvt::has_magic(png, "png")) << png;
    const cvt::DecodedPng image(png);
    ASSERT_TRUE(image.ok()) << png;
    EXPECT_GT(image.width(), 400) << png;
    EXPECT_GT(image.height(), 300) << png;
    EXPECT_GT(image.distinct_colors(), 50u) << png;
  }
  EXPECT_EQ(n, 4);
}

TEST(Report, DataFromTheRunIsEscaped) {
  const auto& run = cvt::augment_run();
  cr::RunReport report = cr::gather_run_report(run.run);
  report.title = "<b>cells & \"genes\"</b>";
  report.sections[0].tables[0].rows.push_back({"<script>", "a<img src=x onerror=alert(1)>"});
  report.sections[0].notes.push_back("note with <tags> & `code`");
  const std::string html = cr::render_html(report);
  EXPECT_TRUE(contains(html, "<title>&lt;b&gt;cells &amp; &quot;genes&quot;&lt;/b&gt;</title>"));
  EXPECT_TRUE(contains(html, "<th>&lt;script&gt;</th><td>a&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_TRUE(contains(html, "note with &lt;tags&gt; &amp; <code>code</code>"));
  EXPECT_FALSE(contains(html, "<script"));
  EXPECT_FALSE(contains(html, "<img src=x"));
}

TEST(Report, MissingPiecesAreSaidNotFatal) {
  cvt::ScratchDir dir;
  const fs::path run = copy_run(dir);
  fs::remove(run / "metrics.json");
  fs::remove(run / "model" / "history.json");
  cr::ReportOptions options;
  options.cells = dir / "moved.h5ad";  // not there
  const cr::RunReport report = cr::gather_run_report(run, options);
  ASSERT_EQ(report.sections.size(), std::size(kSectionIds));
  EXPECT_TRUE(contains(all_notes(*report.section("metrics")), "--no-evaluate"));
  EXPECT_TRUE(report.section("metrics")->metrics.empty());
  EXPECT_TRUE(contains(all_notes(*report.section("training")), "history.json is missing"));
  EXPECT_TRUE(report.section("training")->images.empty());
  for (const char* id : {"embedding", "qc"}) {
    EXPECT_TRUE(contains(all_notes(*report.section(id)), "moved.h5ad"))
        << all_notes(*report.section(id));
    EXPECT_TRUE(report.section(id)->images.empty());
  }
  EXPECT_FALSE(report.warnings.empty());
  const std::string html = cr::render_html(report);
  EXPECT_TRUE(contains(html, "No metrics: the run was made with <code>--no-evaluate"));
}

TEST(Report, FindsTheOutputBesideTheRunFolderWhenTheCwdDiffers) {
  // augment.json holds the output path as given on the command line, here absolute; a copy
  // whose output path is relative still finds a file of that name beside the run folder.
  cvt::ScratchDir dir;
  const fs::path run = copy_run(dir);
  fs::copy_file(cvt::augment_run().output, dir / "augmented.h5ad");
  std::string augment = cvt::read_text(run / "augment.json");
  const std::string absolute = cvt::augment_run().output.string();
  augment.replace(augment.find(absolute), absolute.size(), "elsewhere/augmented.h5ad");
  cvt::write_text(run / "augment.json", augment);
  const cr::RunReport report = cr::gather_run_report(run);
  EXPECT_EQ(report.section("qc")->images.size(), 1u) << all_notes(*report.section("qc"));
}

TEST(Report, NotARunFolderIsAnInputErrorNamingIt) {
  cvt::ScratchDir dir;
  std::string e = cvt::error_of([&] { cr::gather_run_report(dir / "nowhere"); });
  EXPECT_TRUE(contains(e, "nowhere")) << e;
  EXPECT_TRUE(contains(e, "no such folder")) << e;
  e = cvt::error_of([&] { cr::gather_run_report(dir.path()); });
  EXPECT_TRUE(contains(e, dir.path().string())) << e;
  EXPECT_TRUE(contains(e, "no augment.json")) << e;
  cvt::write_text(dir / "augment.json", "{}");
  e = cvt::error_of([&] { cr::gather_run_report(dir.path()); });
  EXPECT_TRUE(contains(e, "no model/model.json")) << e;
  fs::create_directories(dir / "model");
  cvt::write_text(dir / "model" / "model.json", "{not json");
  e = cvt::error_of([&] { cr::gather_run_report(dir.path()); });
  EXPECT_TRUE(contains(e, "model.json is not valid JSON")) << e;
  cr::ReportOptions options;
  options.max_cells = 3;
  e = cvt::error_of([&] { cr::gather_run_report(cvt::augment_run().run, options); });
  EXPECT_TRUE(contains(e, "max_cells")) << e;
}

TEST(CliReport, WritesThePageAndKeepsAnExistingOneWithoutForce) {
  const auto& run = cvt::augment_run();
  cvt::ScratchDir dir;
  const fs::path out = dir / "page.html";
  auto r = cvt::run_cellvae("report " + quoted(run.run) + " -o " + quoted(out) +
                            " --title 'My run' --max-cells 50");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = cvt::read_text(out);
  EXPECT_TRUE(contains(html, "<title>My run</title>"));
  EXPECT_TRUE(contains(html, "<svg "));  // the architecture, inline
  EXPECT_TRUE(contains(html, "Drawn at random for the figures: 50 of "));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  cvt::write_text(out, "keep me");
  r = cvt::run_cellvae("report " + quoted(run.run) + " -o " + quoted(out));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--force")) << r.output;
  EXPECT_EQ(cvt::read_text(out), "keep me");
  r = cvt::run_cellvae("report " + quoted(run.run) + " -o " + quoted(out) + " --force");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(cvt::read_text(out), "<section id=\"metrics\">"));

  r = cvt::run_cellvae("report " + quoted(dir.path()) + " -o " + quoted(dir / "x.html"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "is not a cellvae run folder")) << r.output;
  EXPECT_TRUE(contains(r.output, "augment.json")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.html"));
}

TEST(CliReport, AugmentWithoutReportOrHeldOutCells) {
  const auto& run = cvt::augment_run();
  cvt::ScratchDir dir;
  const fs::path out = dir / "aug.h5ad";
  auto r = cvt::run_cellvae("augment " + quoted(run.data) + " -n 50 -o " + quoted(out) +
                            " --epochs 1 --threads 1 --test-fraction 0 --no-report -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path run_dir = dir / "aug_run";
  ASSERT_TRUE(fs::exists(run_dir / "augment.json"));
  EXPECT_FALSE(fs::exists(run_dir / "report.html"));
  EXPECT_FALSE(fs::exists(run_dir / "metrics.json"));  // nothing held out to score against
  // The report made afterwards says why it has no metrics, and still has the rest, drawn
  // from the training cells and saying so.
  r = cvt::run_cellvae("report " + quoted(run_dir) + " -o " + quoted(run_dir / "report.html"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = cvt::read_text(run_dir / "report.html");
  EXPECT_TRUE(contains(html, "No metrics: only 0 cells were held out of training")) << html;
  EXPECT_TRUE(contains(html, "No cells were held out of training")) << html;
  EXPECT_GE(cvt::attribute_values(html, "src").size(), 3u);  // training, embedding, QC
}
