// The per-host plug index: what the one-shot plug path (`microseg apply IFACE`) needs about a
// guest NIC without reading the cluster's whole snapshot. Written by the full apply, under the
// policy lock, next to the run state (/run/microseg/policy/plug-index); read by the plug path
// under the shared lock. It holds, for the snapshot the full apply enforced:
//   - each assignment's group (by assignment id: vm{vmid}i{iface});
//   - each assigned group's mark and switches (nic_group flags). A plug of a group some NIC of
//     which is on the host already finds its verdict words, service entries and counter slots
//     in the maps: only the NIC is written;
//   - the part of the snapshot that decides the verdicts toward the assigned groups
//     (DestinationSubset: their ancestors, the rules toward them, the groups under those rules'
//     sources), as a snapshot of its own: a plug of a group new on the host compiles the group's
//     column from it, as the plug path does from the whole snapshot;
//   - the interface names another subsystem acts on (carrier bridges, forwarder interfaces of
//     this node), for which the plug takes the full path, and the config's bridges and
//     forwarders (what the carrier and forwarder plan from), as a snapshot of their own;
//   - what the full apply that wrote it left: the NICs it enforced and the digests of the
//     entries it wanted in nic_group, verdicts and services. A full apply that finds the same
//     NICs and the same digests in the kernel skips the snapshot and the plan (FullApplyRecord).
// It is versioned with the snapshot file's stamp (FileStamp), the programs' fingerprint and
// schema, the node and the ids of the maps it was synced with: any difference, a missing or
// corrupt file (checksummed with XXH128) means the plug reads the snapshot as before.
using System.IO.Hashing;
using System.Text;
using Microseg.Agent.Subsystems;
using Microseg.Bpf.Abi;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Agent.Policy;

/// <summary>One assigned group as the plug path needs it.</summary>
public sealed record PlugIndexGroup(string Name, ushort Mark, NicFlags Flags);

public sealed class PlugIndex
{
    public const string FileName = "plug-index";
    private const int FormatVersion = 2;
    private static ReadOnlySpan<byte> Magic => "MSPLUGIX"u8;
    // XXH128 of the content: a torn or damaged file, not an attacker (the file is root's, in
    // /run). Not SHA-256: that loads OpenSSL, milliseconds of every plug's start.
    private const int HashSize = 16;

    private readonly byte[] bytes;
    private readonly (int Start, int Length) subset, others;

    private PlugIndex(byte[] bytes, (int, int) subset, (int, int) others) =>
        (this.bytes, this.subset, this.others) = (bytes, subset, others);

    /// <summary>What the index is valid for.</summary>
    public required PlugIndexVersion Version { get; init; }

    /// <summary>Interface names another subsystem acts on, on this node: their plug takes the full path.</summary>
    public required IReadOnlySet<string> OtherSubsystemNames { get; init; }

    /// <summary>A forwarder on this node takes every interface ('*'): every plug takes the full path.</summary>
    public required bool ForwarderTakesAll { get; init; }

    public required IReadOnlyList<PlugIndexGroup> Groups { get; init; }

    /// <summary>Assignment id → index into <see cref="Groups"/>.</summary>
    public required IReadOnlyDictionary<string, int> Assignments { get; init; }

    /// <summary>The part of the snapshot that decides the verdicts toward the assigned groups
    /// (<see cref="DestinationSubset"/>), parsed on each call: only a plug of a group new on the
    /// host needs it.</summary>
    public PolicyConfig ReadSubset(string path) => Read(subset, path);

    /// <summary>The snapshot's bridges and forwarders (what the carrier and the forwarder plan
    /// from), parsed on each call.</summary>
    public PolicyConfig ReadOthers(string path) => Read(others, path);

    private PolicyConfig Read((int Start, int Length) part, string path) =>
        SnapshotFormat.Read(bytes.AsSpan(part.Start, part.Length).ToArray(), path).Config;

    /// <summary>The NIC <paramref name="link"/> as a plan would enforce it, when its name is a
    /// guest NIC's and the index has its assignment; null otherwise.</summary>
    public EnforcedNic? Nic(LinkInfo link) =>
        GuestNic.TryParse(link.Name, out var guest) && Assignments.TryGetValue(guest.AssignmentId, out var g)
            ? new EnforcedNic(link.Name, link.IfIndex, guest.AssignmentId, Groups[g].Name, Groups[g].Mark, Groups[g].Flags)
            : null;

    /// <summary>What the full apply that wrote the index left in the kernel; null when it
    /// enforced less than it planned (a NIC failed) or the index was written otherwise.</summary>
    public FullApplyRecord? Applied { get; init; }

    // ---- writing -------------------------------------------------------------------------------

    /// <summary>The index of <paramref name="source"/>'s snapshot: every assigned group's mark
    /// and switches, and the part of the snapshot that decides the verdicts toward them.</summary>
    public static byte[] Build(PolicyVersionedPlan source)
    {
        var (plan, config, version) = (source.Plan, source.Config, source.Version);
        var assigned = config.Assignments.Values.Select(a => a.Group).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        var body = new MemoryStream();
        var w = new BinaryWriter(body, Encoding.UTF8);
        w.Write(Magic);
        w.Write(FormatVersion);
        w.Write(version.Stamp);
        w.Write(version.Fingerprint);
        w.Write(version.Schema);
        w.Write(version.Node);
        w.Write(version.NicGroupMapId);
        w.Write(version.VerdictsMapId);
        w.Write(version.ServicesMapId);
        w.Write(source.ForwarderTakesAll);
        w.Write(source.OtherSubsystemNames.Count);
        foreach (var n in source.OtherSubsystemNames.Order(StringComparer.Ordinal)) w.Write(n);

        var kept = assigned.Select(g => (Name: g, Mark: plan.MarkOf(g), Flags: plan.SwitchFlagsOf(g))).ToList();
        var position = kept.Select((k, i) => (k.Name, i)).ToDictionary(k => k.Name, k => k.i, StringComparer.Ordinal);
        var assignments = config.Assignments.Values.Where(a => position.ContainsKey(a.Group)).ToList();
        w.Write(kept.Count);
        foreach (var k in kept) { w.Write(k.Name); w.Write(k.Mark); w.Write((ushort)k.Flags); }
        w.Write(assignments.Count);
        foreach (var a in assignments) { w.Write(a.Id); w.Write(position[a.Group]); }
        var subset = SnapshotFormat.Write(new Snapshot(0, DestinationSubset.Of(config, assigned)));
        w.Write(subset.Length);
        w.Write(subset);
        var others = SnapshotFormat.Write(new Snapshot(0, PolicyConfig.Create(bridges: config.Bridges.Values, forwarders: config.Forwarders.Values)));
        w.Write(others.Length);
        w.Write(others);
        w.Write(source.Applied is not null);
        if (source.Applied is { } applied)
        {
            w.Write(applied.Nics.Count);
            foreach (var (name, ifIndex) in applied.Nics) { w.Write(name); w.Write(ifIndex); }
            foreach (var d in new[] { applied.NicGroup, applied.Verdicts, applied.Services }) { w.Write(d.A); w.Write(d.B); w.Write(d.Count); }
        }
        w.Flush();
        var hash = XxHash128.Hash(body.GetBuffer().AsSpan(0, (int)body.Length));
        body.Write(hash);
        return body.ToArray();
    }

    // ---- reading -------------------------------------------------------------------------------

    /// <summary>The index in <paramref name="path"/>; null, with the reason, when it is missing
    /// or unusable (truncated, another format, checksum mismatch).</summary>
    public static PlugIndex? TryRead(string path, out string? problem)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            problem = "no plug index";
            return null;
        }
        try
        {
            var index = Parse(bytes, out problem);
            return index;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or FormatException or InvalidDataException or OverflowException)
        {
            problem = $"plug index unreadable: {e.Message}";
            return null;
        }
    }

    private static PlugIndex? Parse(byte[] bytes, out string? problem)
    {
        if (bytes.Length < Magic.Length + HashSize || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            problem = "plug index has another format";
            return null;
        }
        var content = bytes.AsSpan(0, bytes.Length - HashSize);
        if (!XxHash128.Hash(content).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashSize)))
        {
            problem = "plug index checksum mismatch";
            return null;
        }
        var stream = new MemoryStream(bytes, 0, bytes.Length - HashSize, writable: false);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        r.ReadBytes(Magic.Length);
        if (r.ReadInt32() != FormatVersion)
        {
            problem = "plug index has another format version";
            return null;
        }
        var version = new PlugIndexVersion(r.ReadString(), r.ReadString(), r.ReadInt32(), r.ReadString(), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32());
        bool all = r.ReadBoolean();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = r.ReadInt32(); i > 0; i--) names.Add(r.ReadString());
        var groups = new List<PlugIndexGroup>();
        for (int i = r.ReadInt32(); i > 0; i--) groups.Add(new PlugIndexGroup(r.ReadString(), r.ReadUInt16(), (NicFlags)r.ReadUInt16()));
        var assignments = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = r.ReadInt32(); i > 0; i--)
        {
            var id = r.ReadString();
            int g = r.ReadInt32();
            if (g < 0 || g >= groups.Count) throw new InvalidDataException($"assignment {id} names group #{g} of {groups.Count}");
            assignments[id] = g;
        }
        var subset = Blob(r, stream);
        var others = Blob(r, stream);
        FullApplyRecord? applied = null;
        if (r.ReadBoolean())
        {
            var nics = new List<(string, int)>();
            for (int i = r.ReadInt32(); i > 0; i--) nics.Add((r.ReadString(), r.ReadInt32()));
            MapDigest Digest() => new(r.ReadUInt64(), r.ReadUInt64(), r.ReadInt32());
            applied = new FullApplyRecord(nics, Digest(), Digest(), Digest());
        }
        if (stream.Position != stream.Length) throw new InvalidDataException("the index does not end where the checksum starts");
        problem = null;
        return new PlugIndex(bytes, subset, others) { Version = version, OtherSubsystemNames = names, ForwarderTakesAll = all, Groups = groups, Assignments = assignments, Applied = applied };
    }

    /// <summary>A length and that many bytes: where they are in the index.</summary>
    private static (int Start, int Length) Blob(BinaryReader r, MemoryStream stream)
    {
        int length = r.ReadInt32();
        int start = (int)stream.Position;
        if (length < 0 || start + (long)length > stream.Length) throw new InvalidDataException("a snapshot part runs past the end of the index");
        stream.Position = start + length;
        return (start, length);
    }
}

/// <summary>What a full apply left in the kernel: the NICs it enforced (name, ifindex; ordered
/// by name) and the digests of the entries it wanted in nic_group, verdicts and services.</summary>
public sealed record FullApplyRecord(IReadOnlyList<(string Name, int IfIndex)> Nics, MapDigest NicGroup, MapDigest Verdicts, MapDigest Services)
{
    public bool Equals(FullApplyRecord? other) =>
        other is not null && Nics.SequenceEqual(other.Nics) && NicGroup == other.NicGroup && Verdicts == other.Verdicts && Services == other.Services;

    public override int GetHashCode() => HashCode.Combine(Nics.Count, NicGroup, Verdicts, Services);
}

/// <summary>What a plug index is valid for: the snapshot file's stamp, the loaded programs, the
/// node, and the maps (by id: a map re-created by clear or a migration is another map).</summary>
public sealed record PlugIndexVersion(string Stamp, string Fingerprint, int Schema, string Node, uint NicGroupMapId, uint VerdictsMapId, uint ServicesMapId);

/// <summary>What the index is built from: the plan the full apply enforced, its snapshot, and
/// what the other subsystems take on this node.</summary>
public sealed record PolicyVersionedPlan(PolicyPlan Plan, PolicyConfig Config, PlugIndexVersion Version, IReadOnlySet<string> OtherSubsystemNames, bool ForwarderTakesAll, int MaxServices)
{
    /// <summary>What the full apply left in the kernel (null: do not vouch for it).</summary>
    public FullApplyRecord? Applied { get; init; }
}
