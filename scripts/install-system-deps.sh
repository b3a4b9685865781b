#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: dicom3tools (dciodvfy),
# dcmtk (dsrdump and the DICOM encoders), libgdcm-tools and openjph-tools (encoders), Xvfb and
# Qt's X11 libraries (napari GUI tests), Chromium (report rendering), Orthanc (PACS tests), the
# sqlite3 shell.
# Idempotent: installs only what is missing. Needs root or sudo.
set -euo pipefail
need=()
command -v dciodvfy >/dev/null || need+=(dicom3tools)
command -v dsrdump >/dev/null || need+=(dcmtk)
# Independent encoders for the transfer-syntax tests: DCMTK (dcmcjpeg, dcmcjpls, dcmcrle,
# dcmconv; in dcmtk), GDCM (gdcmconv: JPEG 2000) and OpenJPH (ojph_compress: HTJ2K).
command -v gdcmconv >/dev/null || need+=(libgdcm-tools)
command -v ojph_compress >/dev/null || need+=(openjph-tools)
# A real PACS for the pull/push tests (tests/pacs): Orthanc with its DICOMweb plugin.
[ -x /usr/sbin/Orthanc ] || command -v Orthanc >/dev/null || need+=(orthanc)
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need+=(orthanc-dicomweb)
command -v openssl >/dev/null || need+=(openssl)  # the https tests' self-signed certificate
command -v Xvfb >/dev/null || need+=(xvfb)
command -v chromium >/dev/null || need+=(chromium)
# Node.js and npm run dcmjs (OHIF's DICOM library) in the SR interoperability tests.
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# The sqlite3 shell: the store tests compare its .dump of a file before and after.
command -v sqlite3 >/dev/null || need+=(sqlite3)
# Qt6 xcb platform plugin runtime libraries (napari under Xvfb); GLX on Xvfb also loads Mesa's
# llvmpipe driver at run time (libglx-mesa0, libgl1-mesa-dri), which ldd does not show.
for pkg in libegl1 libgl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
           libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 \
           libxcb-cursor0 libdbus-1-3 libfontconfig1 fonts-dejavu-core \
           libglx-mesa0 libgl1-mesa-dri libopengl0 libglib2.0-0 xauth; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
