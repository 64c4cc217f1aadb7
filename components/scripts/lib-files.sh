# Writes the files sent on stdin, one per line: `<path> <mode> <base64 content>`. Prepended to scripts that take files.
# A file is replaced only when its content changed, so a re-run leaves modification times alone.
kdw_write_files() {
    while read -r kdw_path kdw_mode kdw_data; do
        [ -n "$kdw_path" ] || continue
        mkdir -p "$(dirname "$kdw_path")"
        kdw_tmp="$kdw_path.kdw-new"
        (umask 077 && printf '%s' "$kdw_data" | base64 -d > "$kdw_tmp")
        chmod "$kdw_mode" "$kdw_tmp"
        if cmp -s "$kdw_tmp" "$kdw_path"; then
            rm -f "$kdw_tmp"
        else
            mv -f "$kdw_tmp" "$kdw_path"
        fi
    done
}
