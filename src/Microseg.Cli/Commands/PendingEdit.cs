// The shared path of every editing command: read-modify-write of the pending config through the
// store, guarded by --digest, refused when the edit would add validation problems. The edits
// themselves, and their checks, are ConfigEdits', shared with the API.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

internal static class PendingEdit
{
    public static Option<string?> DigestOption() => new("--digest")
    {
        Description = "Refuse the edit unless microseg.cfg still has this SHA-256 digest (see 'list --json')",
    };

    /// <summary>Applies the edit and prints what was done. Problems the file already had do not
    /// block an edit; problems the edit adds do, in the words the API uses for the same
    /// refusal (<paramref name="what"/>: "updating group 'web'", as the API names an edit). An
    /// edit that changes nothing writes nothing and says so. A malformed --digest is a usage
    /// error (exit 2), not a conflict.</summary>
    public static int Run(ParseResult parse, Io io, Option<string?> digestOption, string what, Func<PolicyConfig, (PolicyConfig Config, string Done)> edit)
    {
        var store = MicrosegRootCommand.Store(parse);
        var expected = parse.GetValue(digestOption);
        if (UsageProblem(io, store, expected)) return ExitCodes.Usage;
        string done = "";
        PendingConfig? read = null;
        var digest = store.EditPending(pending =>
        {
            read = pending;
            var before = Validation.Check(pending.Config);
            var (after, message) = Refusals(() => edit(pending.Config));
            var added = Validation.AddedProblems(before, Validation.Check(after));
            if (added.Count > 0) throw new UserException(ConfigEdits.RefusalMessage(what, added));
            done = message;
            return after;
        }, expected);
        io.Out.WriteLine(read is { Exists: true } && digest == read.Digest
            ? $"no change: {what} changes nothing; nothing written (digest {digest})"
            : $"{done} (digest {digest})");
        return ExitCodes.Ok;
    }

    /// <summary>Reports a --digest that cannot be a digest of the store (exit 2), before anything is read.</summary>
    public static bool UsageProblem(Io io, IConfigStore store, string? digest)
    {
        if (digest is null || store.DigestProblem(digest) is not { } problem) return false;
        io.Err.WriteLine($"microseg: --digest '{Text.Clip(digest, 70)}': {problem}; see 'microseg --help'");
        return true;
    }

    /// <summary>The pending config for a reading command: a file that does not exist is an
    /// error that says so, not an empty policy.</summary>
    public static PendingConfig ReadExisting(IConfigStore store)
    {
        var pending = store.ReadPending();
        return pending.Exists ? pending : throw new UserException(MissingMessage(store));
    }

    public static string MissingMessage(IConfigStore store) =>
        $"{store.PendingLocation} does not exist: nothing is configured there (check --config-dir or MICROSEG_CONFIG_DIR; 'microseg group add NAME' starts a new config)";

    /// <summary>A shared edit's refusal in the CLI's words: one line, and the command to use
    /// instead when an object is in the way.</summary>
    private static T Refusals<T>(Func<T> edit)
    {
        try { return edit(); }
        catch (MissingObjectException e) { throw new UserException(e.Message); }
        catch (ConfigEditException e) when (e.Existing is { } existing)
        {
            throw new UserException($"{e.Message} (use '{existing.Type.Name()} set')");
        }
        catch (ConfigEditException e) { throw new UserException(e.Message); }
    }

    /// <summary>The names of --delete, as a set.</summary>
    public static IReadOnlySet<string> Deletes(string[]? names) => (names ?? []).ToHashSet(StringComparer.Ordinal);

    /// <summary>The file keeps a comment trimmed, and an empty comment is no comment. One with a
    /// control character is passed on as it is, for ConfigEdits to refuse (as for the API).</summary>
    public static string? Comment(string? text) =>
        text is null ? null
        : text.Any(char.IsControl) ? text
        : text.Trim() is { Length: > 0 } trimmed ? trimmed : null;
}

/// <summary>`TYPE del ID`: removes one object. Deleting what others still reference is refused.</summary>
internal sealed class DeleteCommand : Command
{
    public DeleteCommand(Io io, ObjectType type) : base("del", $"Delete a {type.Name()} from the pending config")
    {
        var id = new Argument<string>("ID") { Description = $"the {type.Name()}'s id" };
        var digest = PendingEdit.DigestOption();
        Arguments.Add(id);
        Options.Add(digest);
        SetAction(parse => PendingEdit.Run(parse, io, digest, $"deleting {type.Name()} '{Text.Clip(parse.GetValue(id)!)}'", config =>
        {
            var name = parse.GetValue(id)!;
            return (ConfigEdits.Delete(config, type, name), $"deleted {type.Name()} {name}");
        }));
    }
}

/// <summary>`TYPE list [--json]`: the objects of one type in the pending config.</summary>
internal sealed class ListCommand : Command
{
    public ListCommand(Io io, ObjectType type, string[] headers, Func<IConfigObject, string?[]> row)
        : base("list", $"List the {type.Name()}s of the pending config")
    {
        var json = new Option<bool>("--json") { Description = "JSON output: {\"data\": [...], \"digest\": \"...\"}" };
        Options.Add(json);
        SetAction(parse =>
        {
            var pending = PendingEdit.ReadExisting(MicrosegRootCommand.Store(parse));
            var objects = pending.Config.Objects.Where(o => o.Type == type).ToList();
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("data");
                    foreach (var o in objects) SnapshotFormat.WriteObject(w, o);
                    w.WriteEndArray();
                    w.WriteString("digest", pending.Digest);
                    w.WriteEndObject();
                });
                return ExitCodes.Ok;
            }
            var table = new Output.Table(headers);
            foreach (var o in objects) table.Row(row(o));
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        });
    }
}
