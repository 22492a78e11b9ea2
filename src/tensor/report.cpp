// report.cpp — progress bar, JSONL metrics log and SVG curves (see report.h).
#include "tensor/report.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace tg {

// ---- ProgressBar --------------------------------------------------------------------------------

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)), total_(std::max<int64_t>(1, total)), enabled_(isatty(2) != 0) {
    start_ = last_ = std::chrono::steady_clock::now();
}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(int64_t done, const std::string& suffix) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double frac = std::min(1.0, double(done) / double(total_));
    const double el = std::chrono::duration<double>(now - start_).count();
    const double eta = done > 0 ? el * (double(total_) / double(done) - 1.0) : 0.0;
    const int W = 30, fill = int(frac * W);
    std::string bar(size_t(fill), '#');
    bar += std::string(size_t(W - fill), '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %.0fs<%.0fs %s\x1b[K", label_.c_str(), bar.c_str(),
                 int(frac * 100), (long long)done, (long long)total_, el, eta, suffix.c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressBar::clear() {
    if (enabled_ && drawn_) {
        std::fprintf(stderr, "\r\x1b[K");
        std::fflush(stderr);
        drawn_ = false;
    }
}

// ---- MetricsLog ---------------------------------------------------------------------------------

MetricsLog::MetricsLog(const std::string& path, bool truncate) : path_(path) {
    f_ = std::fopen(path.c_str(), truncate ? "w" : "a");
    TG_CHECK(f_ != nullptr, "cannot open metrics log ", path, ": ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
    if (f_) std::fclose(f_);
}

void MetricsLog::write(const std::string& obj) {
    TG_CHECK(f_ != nullptr, "metrics log is not open");
    TG_CHECK(json::parse(obj, "metrics line").is_object(), "metrics line is not a JSON object: ", obj);
    std::fputs(obj.c_str(), f_);
    std::fputc('\n', f_);
    std::fflush(f_);
}

std::vector<std::string> MetricsLog::read_lines(const std::string& path) {
    std::vector<std::string> out;
    if (!file_exists(path)) return out;
    const std::string text = read_file(path);
    size_t p = 0;
    int line = 0;
    while (p < text.size()) {
        size_t q = text.find('\n', p);
        if (q == std::string::npos) q = text.size();
        line++;
        std::string s = text.substr(p, q - p);
        if (!s.empty()) {
            json::parse(s, str(path, ":", line));
            out.push_back(s);
        }
        p = q + 1;
    }
    return out;
}

// ---- SVG ----------------------------------------------------------------------------------------

static std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '&') o += "&amp;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

// "Nice" tick step (1, 2 or 5 times a power of ten) for about n ticks over [lo, hi].
static double nice_step(double lo, double hi, int n) {
    const double raw = (hi - lo) / n;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

void write_curve_svg(const std::string& path, const std::string& title, const std::string& xlabel,
                     const std::string& ylabel, const std::vector<CurveSeries>& series) {
    const double W = 720, H = 420, L = 70, R = 170, T = 40, B = 50;  // canvas and margins
    double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
    for (const auto& s : series)
        for (size_t k = 0; k < s.x.size() && k < s.y.size(); k++) {
            if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
            x0 = std::min(x0, s.x[k]), x1 = std::max(x1, s.x[k]);
            y0 = std::min(y0, s.y[k]), y1 = std::max(y1, s.y[k]);
        }
    if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to plot: empty axes
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
    const double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
    static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
    std::string s;
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                  "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  W, H);
    s += buf;
    s += "<text x=\"" + std::to_string(int(W / 2)) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + esc(title) +
         "</text>\n";
    // axes, grid and ticks
    const double xs = nice_step(x0, x1, 6), ys = nice_step(y0, y1, 6);
    for (double v = std::ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs) {
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                      px(v), T, px(v), H - B, px(v), H - B + 16, v);
        s += buf;
    }
    for (double v = std::ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                      L, py(v), W - R, py(v), L - 6, py(v) + 4, v);
        s += buf;
    }
    std::snprintf(buf, sizeof buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n",
                  L, T, W - L - R, H - T - B);
    s += buf;
    s += "<text x=\"" + std::to_string(int((L + W - R) / 2)) + "\" y=\"" + std::to_string(int(H - 12)) +
         "\" text-anchor=\"middle\">" + esc(xlabel) + "</text>\n";
    s += "<text transform=\"translate(16," + std::to_string(int((T + H - B) / 2)) +
         ") rotate(-90)\" text-anchor=\"middle\">" + esc(ylabel) + "</text>\n";
    // series and legend
    int ci = 0, li = 0;
    for (const auto& sr : series) {
        if (sr.x.empty()) continue;
        const char* col = colors[ci++ % 6];
        std::string pts;
        for (size_t k = 0; k < sr.x.size() && k < sr.y.size(); k++) {
            if (!std::isfinite(sr.y[k])) continue;
            std::snprintf(buf, sizeof buf, "%.1f,%.1f ", px(sr.x[k]), py(sr.y[k]));
            pts += buf;
        }
        s += "<polyline fill=\"none\" stroke=\"" + std::string(col) + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
        if (sr.x.size() == 1) {
            std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(sr.x[0]),
                          py(sr.y[0]), col);
            s += buf;
        }
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\">",
                      W - R + 12, T + 10 + 18 * li, W - R + 32, T + 10 + 18 * li, col, W - R + 38, T + 14 + 18 * li);
        s += buf + esc(sr.name) + "</text>\n";
        li++;
    }
    s += "</svg>\n";
    write_file_atomic(path, s);
}

}  // namespace tg
