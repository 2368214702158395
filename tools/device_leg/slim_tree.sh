# The device tool sends the working tree (tracked and untracked-not-ignored files), 64 MiB at most with what
# it carries; this repository is ~76 MiB. `slim` takes out of the index, and ignores, what a diffusion leg
# does not need (the docs, the GAN, the domain classifier, and the fp32 UNet, which .devcarry holds in fp16);
# `restore` puts the index and the ignore list back. Run restore right after the call, before any commit.
#
#   bash tools/device_leg/slim_tree.sh slim|restore
set -e
PATHS="docs ml_engine/weights/gan ml_engine/weights/domain_classifier ml_engine/weights/diffusion/unet/diffusion_pytorch_model.safetensors"
EXCLUDE=.git/info/exclude
case "$1" in
  slim)
    git rm -r --cached -q $PATHS
    { echo "# device-leg begin"; for p in $PATHS; do echo "/$p"; done; echo "# device-leg end"; } >> $EXCLUDE
    { git ls-files; git ls-files --others --exclude-standard; } | sort -u \
      | while read -r f; do [ -f "$f" ] && stat -c %s "$f"; done | awk '{s += $1} END {printf "tree sent: %.1f MiB\n", s / 1048576}'
    du -sm .devcarry | awk '{print "carried: " $1 " MiB"}'
    ;;
  restore)
    git reset -q
    sed -i '/^# device-leg begin$/,/^# device-leg end$/d' $EXCLUDE
    git status --short
    ;;
  *) echo "usage: $0 slim|restore"; exit 2 ;;
esac
