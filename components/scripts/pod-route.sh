# Routes one worker's pod range via that worker, now and after every reboot.
# Environment: KDW_HOME KDW_POD_CIDR KDW_VIA
set -eu
step="$KDW_HOME/boot.d/60-route-$(echo "$KDW_POD_CIDR" | tr './' '__')"
case "$1" in
up)
    echo "ip route replace $KDW_POD_CIDR via $KDW_VIA" > "$step"
    ip route replace "$KDW_POD_CIDR" via "$KDW_VIA"
    ;;
down)
    # The route before its boot step: a down interrupted in between leaves the step, which the next down finds.
    if ip route show "$KDW_POD_CIDR" | grep -q "via $KDW_VIA"; then
        ip route del "$KDW_POD_CIDR" via "$KDW_VIA"
    fi
    rm -f "$step"
    ;;
esac
