#include "gateway/core/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "gateway/core/error.hpp"

namespace portgate {
namespace fs = std::filesystem;

status write_file_atomically(const fs::path& dest, std::string_view bytes, bool sync) {
    const fs::path dir = dest.parent_path();
    const fs::path tmp = dir / ("." + dest.filename().string() + ".tmp");
    auto fail = [&](std::string why) -> status {
        std::error_code ec;
        fs::remove(tmp, ec);
        return error(errc::io_error, std::move(why));
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::string why = fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno));
            ::close(fd);
            return fail(why);
        }
        done += static_cast<std::size_t>(n);
    }
    if (sync && ::fsync(fd) != 0) {
        std::string why = fmt::format("cannot fsync {}: {}", tmp.string(), std::strerror(errno));
        ::close(fd);
        return fail(why);
    }
    if (::close(fd) != 0) return fail(fmt::format("cannot close {}: {}", tmp.string(), std::strerror(errno)));
    std::error_code ec;
    fs::rename(tmp, dest, ec);
    if (ec) return fail(fmt::format("cannot rename {} into {}: {}", tmp.filename().string(), dir.string(), ec.message()));
    if (sync) {
        int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::fsync(dfd);
            ::close(dfd);
        }
    }
    return ok();
}

}  // namespace portgate
