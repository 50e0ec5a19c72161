/// Folder paths as Cloudinary writes them: segments joined by `/`, no leading or trailing `/`, and
/// `""` for the root.
enum FolderPath {
    /// `a/b/c` → `a/b`; `c` → `""` (the folder a fixed-folder cloud files the public ID under).
    static func parent(of publicID: String) -> String {
        guard let slash = publicID.lastIndex(of: "/") else { return "" }
        return String(publicID[..<slash])
    }

    /// `a/b/c` → `c` (the default display name, and a folder's `name`).
    static func lastSegment(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Drops leading and trailing slashes: `/a/b/` → `a/b`.
    static func normalized(_ folder: String) -> String {
        var folder = Substring(folder)
        while folder.hasPrefix("/") { folder = folder.dropFirst() }
        while folder.hasSuffix("/") { folder = folder.dropLast() }
        return String(folder)
    }

    /// Whether `assetFolder` is `folder` or one of its subfolders (every folder is in the root).
    static func isInside(_ assetFolder: String, folder: String) -> Bool {
        folder.isEmpty || assetFolder == folder || assetFolder.hasPrefix(folder + "/")
    }

    /// `assetFolder` (inside `from`) moved to `to`: `shop/old/x` from `shop/old` to `shop/new` → `shop/new/x`.
    static func moved(_ assetFolder: String, from: String, to: String) -> String {
        to + assetFolder.dropFirst(from.count)
    }

    /// The immediate subfolder of `folder` that holds `assetFolder`, if it is strictly below it.
    static func child(of folder: String, toward assetFolder: String) -> String? {
        let rest: Substring
        if folder.isEmpty {
            rest = Substring(assetFolder)
        } else {
            guard assetFolder.hasPrefix(folder + "/") else { return nil }
            rest = assetFolder.dropFirst(folder.count + 1)
        }
        guard let name = rest.split(separator: "/", omittingEmptySubsequences: false).first, !name.isEmpty else { return nil }
        return folder.isEmpty ? String(name) : folder + "/" + name
    }
}
