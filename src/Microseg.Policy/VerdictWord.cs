// Compiled verdicts as 64-bit masks: one word holds the verdicts of 64 consecutive source marks
// for one destination group, so a destination costs at most 1,024 words (65,536 marks / 64)
// however many groups its rules reach. The agent turns each word into one verdict map entry.
namespace Microseg.Policy;

/// <summary>Sources SrcHi × 64 .. SrcHi × 64 + 63 to destination group Dst: bit (mark &amp; 63)
/// of Allow set = allowed (mark 0 = untagged) for the packets that no service rule matches; the
/// same bit of Service set = the pair has service entries (<see cref="ServiceEntry"/>): a packet
/// of a protocol with an entry takes the entry's verdict, any other the Allow bit. A word that
/// is absent denies all 64.</summary>
public readonly record struct VerdictWord(ushort Dst, ushort SrcHi, ulong Allow, ulong Service = 0)
{
    public const int Shift = 6;
    public const int SourcesPerWord = 1 << Shift;
    public const int WordsPerDestination = (ushort.MaxValue + 1) / SourcesPerWord;

    /// <summary>The counter slot of each source's deciding rule (or of the destination's default
    /// deny), by bit; null when compiled without slots.</summary>
    public ushort[]? Slots { get; init; }

    public static ushort WordOf(ushort srcMark) => (ushort)(srcMark >> Shift);

    public static ulong BitOf(ushort srcMark) => 1UL << (srcMark & (SourcesPerWord - 1));

    /// <summary>True when this word is the source's and its Allow bit is set.</summary>
    public bool Allows(ushort srcMark) => SrcHi == WordOf(srcMark) && (Allow & BitOf(srcMark)) != 0;

    /// <summary>True when this word is the source's and its Service bit is set.</summary>
    public bool DependsOnService(ushort srcMark) => SrcHi == WordOf(srcMark) && (Service & BitOf(srcMark)) != 0;

    /// <summary>Packs allowed pairs (as <see cref="PolicyEngine.Compile"/> gives them) into words,
    /// sorted by (Dst, SrcHi). Entries that deny set no bit.</summary>
    public static IReadOnlyList<VerdictWord> Pack(IEnumerable<VerdictEntry> entries)
    {
        var words = new Dictionary<(ushort Dst, ushort SrcHi), ulong>();
        foreach (var e in entries)
        {
            if (e.Action != RuleAction.Allow) continue;
            var key = (e.DstMark, WordOf(e.SrcMark));
            words[key] = words.GetValueOrDefault(key) | BitOf(e.SrcMark);
        }
        return [.. words.OrderBy(w => w.Key).Select(w => new VerdictWord(w.Key.Dst, w.Key.SrcHi, w.Value))];
    }
}

/// <summary>Counter slots for the compiler: one per (deciding rule, destination group mark) and
/// one per destination for the sources no rule decides.</summary>
public interface IDecisionSlots
{
    ushort RuleSlot(Rule rule, ushort dstMark);

    ushort DefaultSlot(ushort dstMark);
}
