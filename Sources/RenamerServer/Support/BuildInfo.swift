/// What `asset-renamer --version` prints and the start-up log line names.
public enum BuildInfo {
    /// The release: the minor number follows the issues landed (SPEC §11 folders: 0.15).
    public static let version = "0.15.0"
}
