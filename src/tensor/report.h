// report.h — training progress for people and for plots: a progress bar, metrics.jsonl, an SVG curve.
//
// Generic (graph models and BERT fine-tuning both use it):
//   ProgressBar   one line on stderr, redrawn in place ("\r"), only when stderr is a terminal, so logs
//                 and pipes stay clean; throttled to ~10 redraws a second.
//   MetricsLog    appends one JSON object per line to a file (flushed each line, so a crash loses at
//                 most the line being written) and can read the lines back (to redraw a resumed run).
//   write_curve_svg  a self-contained line chart (several series, shared x axis, axes with ticks and a
//                 legend), written atomically. No dependencies: plain SVG text.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace tg {

class ProgressBar {
   public:
    // total = number of steps; label printed in front.
    ProgressBar(std::string label, int64_t total);
    ~ProgressBar();
    // Redraw with `done` steps finished and a free-form suffix (e.g. "loss 0.213").
    void update(int64_t done, const std::string& suffix = "");
    // Clear the line (call before printing other text to stderr, and at the end).
    void clear();
    bool enabled() const { return enabled_; }

   private:
    std::string label_;
    int64_t total_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_;
};

class MetricsLog {
   public:
    MetricsLog() = default;
    // Open for appending (truncate = start afresh). Throws naming the path.
    MetricsLog(const std::string& path, bool truncate);
    ~MetricsLog();
    MetricsLog(const MetricsLog&) = delete;
    MetricsLog& operator=(const MetricsLog&) = delete;
    void write(const std::string& json_object);  // one line; must be a JSON object
    const std::string& path() const { return path_; }
    // All lines of an existing log (empty if the file is absent); malformed lines raise an error.
    static std::vector<std::string> read_lines(const std::string& path);

   private:
    std::string path_;
    FILE* f_ = nullptr;
};

struct CurveSeries {
    std::string name;
    std::vector<double> x, y;
};

// Line chart of the series (each on the same axes). Empty series are skipped; writes atomically.
void write_curve_svg(const std::string& path, const std::string& title, const std::string& xlabel,
                     const std::string& ylabel, const std::vector<CurveSeries>& series);

}  // namespace tg
