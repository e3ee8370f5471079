#!/usr/bin/env bash
# Prepares .gpu-bundle/ (git-ignored) with what a CUDA build of sparsead on a bare GPU
# machine needs and cannot get there (no network, no apt; it has nvcc, cmake, ninja and
# PyTorch): OpenBLAS (OpenMP build) with its Fortran runtime, doctest, stb (headers only: data/stb_impl.cpp compiles it) and Google
# Benchmark as Debian packages unpacked into one sysroot, plus the cuDNN headers of the
# local CUDA toolkit (the GPU machine may have only cuDNN's libraries, in the PyTorch
# wheels). The cuDNN libraries themselves (~480 MB) are far too big to carry:
# scripts/gpu-check.sh finds them on the GPU machine.
#
# The sysroot travels as one tar.gz (the libraries compress ~4x); the whole bundle must
# stay well under the 64 MiB that travels with the working tree. Run here, on a machine
# with apt (Debian/Ubuntu, amd64): scripts/gpu-bundle.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle=$root/.gpu-bundle
cuda=${CUDA_HOME:-/usr/local/cuda}

# Runtime + development packages. libopenblas0-openmp needs libgfortran5 (which needs
# libquadmath0) and libgomp1; those are usually present where gcc is, and gpu-check.sh
# uses the bundled copies only where the system has none.
packages=(libopenblas0-openmp libopenblas-openmp-dev doctest-dev libstb-dev libbenchmark-dev libbenchmark1debian
  libgfortran5 libquadmath0 libgomp1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/sysroot"
chmod 755 "$work" && chmod 777 "$work/debs"  # apt-get download runs as _apt
echo "gpu-bundle: downloading ${packages[*]}"
(cd "$work/debs" && apt-get download "${packages[@]}" >/dev/null)
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/sysroot"; done

# Keep headers, CMake package files and shared libraries; drop documentation, static
# archives (the OpenBLAS .a alone is 58 MB each, four times) and the reference BLAS and
# LAPACK interfaces that nothing links.
s=$work/sysroot
rm -rf "$s/usr/share/doc" "$s/usr/share/man" "$s/usr/share/lintian" "$s/usr/share/gcc"
find "$s" -name '*.a' ! -name 'libbenchmark_main.a' -delete  # benchmark's CMake targets check that one exists
find "$s" \( -name 'libblas.so*' -o -name 'liblapack.so*' \) -delete
find "$s" -xtype l -delete  # links left dangling by the deletions (and alternatives links)

# Debian's doctest CMake package hard-codes its prefix (/usr): make it relative to where
# the file lies, or the include directory points at a /usr/include/doctest that the GPU
# machine does not have. (Benchmark's package computes its prefix already.)
sed -i 's|^set(_IMPORT_PREFIX "/usr")$|get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)|' \
  "$s/usr/lib/cmake/doctest/doctestTargets.cmake"
grep -q 'CMAKE_CURRENT_LIST_DIR}/../../..' "$s/usr/lib/cmake/doctest/doctestTargets.cmake" ||
  { echo "gpu-bundle: could not relocate doctest's CMake package" >&2; exit 1; }

# Fortran/OpenMP runtimes go to a separate folder so that gpu-check.sh can add only the
# ones the GPU machine lacks (a newer system libgomp must win over this older one).
mkdir -p "$s/fallback-lib"
for lib in libgfortran.so.5 libquadmath.so.0 libgomp.so.1; do
  src=$(find "$s/usr/lib" -name "$lib*" -type f | head -1)
  [[ -n $src ]] || { echo "gpu-bundle: $lib missing from the downloaded packages" >&2; exit 1; }
  cp "$src" "$s/fallback-lib/$lib"
done
find "$s/usr/lib" \( -name 'libgfortran.so*' -o -name 'libquadmath.so*' -o -name 'libgomp.so*' \) -delete

# cuDNN headers (small) from the local toolkit, for a GPU machine whose cuDNN is the pip
# wheel's library without headers. Only the legacy convolution API is used, which every
# cuDNN 9.x library provides.
mkdir -p "$s/cudnn/include"
cp "$cuda"/include/cudnn*.h "$s/cudnn/include/"

{
  echo "sparsead GPU bundle, made $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "packages:"
  for deb in "$work"/debs/*.deb; do echo "  $(basename "$deb")"; done
  echo "cudnn headers: $(grep -E 'define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$cuda/include/cudnn_version.h" | awk '{print $3}' | paste -sd.)"
} >"$s/MANIFEST"

rm -rf "$bundle"
mkdir -p "$bundle"
tar -C "$work/sysroot" -czf "$bundle/sysroot.tar.gz" .
cp "$s/MANIFEST" "$bundle/MANIFEST"
cat "$bundle/MANIFEST"
echo "gpu-bundle: $(du -sh "$bundle" | cut -f1) in $bundle (travels with the working tree: name it in 'carry')"
