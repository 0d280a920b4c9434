#include <gtest/gtest.h>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "test_support.hpp"

using namespace cellvae;
namespace cvt = cellvae::testing;
namespace fs = std::filesystem;

TEST(AtomicOutput, UncommittedLeavesTargetUntouchedAndNoTemp) {
  cvt::ScratchDir dir;
  const fs::path target = dir / "out.csv";
  cvt::write_text(target, "old");
  {
    AtomicOutput out(target);
    cvt::write_text(out.temp_path(), "half-written");
    // destroyed without commit, as when an exception unwinds
  }
  EXPECT_EQ(cvt::read_text(target), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(AtomicOutput, CommitReplacesFile) {
  cvt::ScratchDir dir;
  const fs::path target = dir / "out.csv";
  cvt::write_text(target, "old");
  AtomicOutput out(target);
  EXPECT_EQ(out.temp_path().parent_path(), dir.path());
  cvt::write_text(out.temp_path(), "new");
  out.commit();
  EXPECT_EQ(cvt::read_text(target), "new");
}

TEST(AtomicOutput, CommitReplacesDirectory) {
  cvt::ScratchDir dir;
  const fs::path target = dir / "tenx";
  fs::create_directories(target);
  cvt::write_text(target / "stale.txt", "x");
  AtomicOutput out(target);
  fs::create_directories(out.temp_path());
  cvt::write_text(out.temp_path() / "matrix.mtx", "m");
  out.commit();
  EXPECT_TRUE(fs::exists(target / "matrix.mtx"));
  EXPECT_FALSE(fs::exists(target / "stale.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(AtomicOutput, MissingParentFolderIsAnInputError) {
  cvt::ScratchDir dir;
  EXPECT_THROW(AtomicOutput(dir / "no/such/out.h5ad"), InputError);
}
