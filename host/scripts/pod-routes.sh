# The pod routes of one host (the PodRoute step): installs kdw-routes and the table `pulumi up` made for this host,
# then kdw-routes applies the table and keeps it applied. `down` removes the loop, the table and our routes.
# Environment: KDW_PROFILE KDW_HOME KDW_ETC. Stdin: kdw-routes and the table, as lib-files.sh reads them.
set -eu
program="$KDW_HOME/bin/kdw-routes"
case "$1" in
up)
    kdw_write_files
    "$program" up
    ;;
down)
    if [ -x "$program" ]; then
        "$program" down
    fi
    rm -f "$program"
    ;;
esac
