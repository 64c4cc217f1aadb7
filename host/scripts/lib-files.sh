# Writes the files sent on stdin, one per line: `<path> <mode> <base64 content>`. Prepended to scripts that take files.
# A file is replaced only when its content changed, so a re-run leaves modification times alone.
kdw_write_files() {
    while read -r file_path file_mode file_b64; do
        [ -n "$file_path" ] || continue
        mkdir -p "$(dirname "$file_path")"
        file_tmp="$file_path.kdw-new"
        (umask 077 && printf '%s' "$file_b64" | base64 -d > "$file_tmp")
        chmod "$file_mode" "$file_tmp"
        if cmp -s "$file_tmp" "$file_path"; then
            rm -f "$file_tmp"
        else
            mv -f "$file_tmp" "$file_path"
        fi
    done
}
