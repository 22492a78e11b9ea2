// Small helpers shared by the C++ benchmark drivers in tools/bench.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Peak resident set of this process in MB: VmHWM from /proc/self/status (-1 where there is none).
// getrusage's ru_maxrss would not do: Linux keeps it across exec, so a driver forked by a Python
// script would report the parent's peak.
inline double peak_rss_mb() {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mb = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmHWM:", 6) == 0) mb = std::atof(line + 6) / 1024.0;
    std::fclose(f);
    return mb;
}
