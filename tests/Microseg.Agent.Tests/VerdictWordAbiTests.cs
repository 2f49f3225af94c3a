// The policy engine's mask words (pure, Microseg.Policy) become verdict map entries (abi.h,
// mirrored in Microseg.Bpf.Abi): the word geometry on both sides must be the same.
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public class VerdictWordAbiTests
{
    [Fact]
    public void Verdict_words_have_the_geometry_of_the_verdict_map()
    {
        Assert.Equal(PolicyAbi.VerdictWordShift, VerdictWord.Shift);
        Assert.Equal(PolicyAbi.VerdictWordMask, VerdictWord.SourcesPerWord - 1);
        Assert.Equal(PolicyAbi.VerdictWordsPerDst, VerdictWord.WordsPerDestination);
        Assert.Equal(8 * sizeof(ulong), VerdictWord.SourcesPerWord);
    }

    [Fact]
    public void Packed_pairs_set_one_bit_per_allowed_source_in_its_word()
    {
        var words = VerdictWord.Pack([
            new VerdictEntry(0, 7, RuleAction.Allow), new VerdictEntry(63, 7, RuleAction.Allow),
            new VerdictEntry(64, 7, RuleAction.Allow), new VerdictEntry(65535, 7, RuleAction.Allow),
            new VerdictEntry(5, 7, RuleAction.Deny), new VerdictEntry(1, 3, RuleAction.Allow)]);

        Assert.Equal([
            new VerdictWord(3, 0, 1UL << 1),
            new VerdictWord(7, 0, 1UL | 1UL << 63),
            new VerdictWord(7, 1, 1UL),
            new VerdictWord(7, 1023, 1UL << 63)], words);
    }
}
