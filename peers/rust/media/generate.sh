#!/bin/sh
# Regenerates the media files the Rust peer sends (see README.md). Needs ffmpeg with libvpx,
# libx264, libaom and libopus (Debian 12: `apt-get install -y ffmpeg`). Not needed to build,
# test or run the peer: the files are committed.
#
# Every video file: `testsrc` (colour bars, a moving gradient and a running frame counter),
# 15 fps, 5 s, ONE keyframe at the very start (GOP = the whole file, no scene-cut keyframes, no
# hidden/alt-ref frames), so a keyframe on the wire after a PLI proves the sender answered it.
set -eu
cd "$(dirname "$0")"

FPS=15
SECONDS_LONG=5
GOP=1000
FF="ffmpeg -hide_banner -loglevel error -y"

video() { # size name
  size=$1
  src="testsrc=size=${size}:rate=${FPS}:duration=${SECONDS_LONG}"
  $FF -f lavfi -i "$src" -pix_fmt yuv420p -c:v libvpx -b:v 120k -g $GOP -keyint_min $GOP \
    -auto-alt-ref 0 -lag-in-frames 0 -deadline good -cpu-used 4 -f ivf "vp8-${size}.ivf"
  $FF -f lavfi -i "$src" -pix_fmt yuv420p -c:v libvpx-vp9 -profile:v 0 -b:v 120k -g $GOP \
    -keyint_min $GOP -auto-alt-ref 0 -lag-in-frames 0 -deadline good -cpu-used 4 \
    -f ivf "vp9-${size}.ivf"
  # Constrained baseline (profile_idc 66 with constraint_set1), level 3.1, Annex B with SPS/PPS
  # before the IDR only; packetization-mode 1 is the RTP side (FU-A), not a property of the file.
  $FF -f lavfi -i "$src" -pix_fmt yuv420p -c:v libx264 -profile:v baseline -level 3.1 \
    -b:v 120k -x264-params "keyint=${GOP}:min-keyint=${GOP}:scenecut=0:slices=1" \
    -bsf:v h264_mp4toannexb -f h264 "h264-${size}.h264"
  $FF -f lavfi -i "$src" -pix_fmt yuv420p -c:v libaom-av1 -usage realtime -cpu-used 8 \
    -b:v 100k -g $GOP -keyint_min $GOP -lag-in-frames 0 -f ivf "av1-${size}.ivf"
}

video 320x240
video 160x120

# Opus in Ogg: 48 kHz, 20 ms frames, one frame per page (the peer sends one page per packet).
$FF -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=${SECONDS_LONG}" -ac 1 \
  -c:a libopus -b:a 32k -frame_duration 20 -page_duration 20000 -f ogg opus-48k.ogg
# G.711, raw 8 kHz bytes (the peer sends 160 bytes = 20 ms per packet).
$FF -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=${SECONDS_LONG}" -ac 1 \
  -c:a pcm_mulaw -f mulaw pcmu-8k.raw
$FF -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=${SECONDS_LONG}" -ac 1 \
  -c:a pcm_alaw -f alaw pcma-8k.raw

ls -l
