// A program attached to one direction of a network device, whatever the attach mode: a tcx link
// (kernel ≥ 6.6) or a cls_bpf filter on the clsact qdisc (every kernel microseg supports). What
// they share is swapping the program atomically, saying which program runs, and detaching.
// What differs stays with each: a tcx link is an fd that is pinned to outlive the process; a tc
// filter belongs to the device and is found again by its fixed handle and priority.
namespace Microseg.Bpf;

/// <summary>The two hooks of a network device.</summary>
public enum HookDirection
{
    /// <summary>Packets the device receives (for a guest NIC's host side: packets from the guest).</summary>
    Ingress,

    /// <summary>Packets the device transmits (for a guest NIC's host side: packets to the guest).</summary>
    Egress,
}

public interface IDeviceAttachment : IDisposable
{
    /// <summary><see cref="AttachMode.Tcx"/> or <see cref="AttachMode.Tc"/>.</summary>
    AttachMode Mode { get; }

    /// <summary>The ifindex attached to, as created or found (it may have been recycled since).</summary>
    int IfIndex { get; }

    HookDirection Direction { get; }

    /// <summary>Swaps the attached program atomically: every packet sees the old program or the
    /// new one, never neither. Fails when the attachment is gone (its device deleted, or
    /// detached); it never attaches anew.</summary>
    void Update(BpfProgram program);

    /// <summary>The kernel's id of the program attached now (compare with
    /// <see cref="BpfProgramInfo.Id"/>), asked of the kernel on each call; 0 when the attachment
    /// runs nothing any more (its device was deleted, or it was detached).</summary>
    uint AttachedProgramId();

    /// <summary>Detaches the program now. Detaching what is already gone is not an error.</summary>
    void Detach();
}

public static class DeviceAttachment
{
    /// <summary>Attaches <paramref name="program"/> (a SEC("tc") sched_cls program) in the given
    /// mode, which must be a resolved one (<see cref="BpfFeatures.ChooseAttachMode"/>), not auto.
    /// A tcx link comes back unpinned: pin it to keep it past this process; a tc filter stays
    /// until detached or its device goes.</summary>
    public static IDeviceAttachment Attach(AttachMode mode, BpfProgram program, int ifIndex, HookDirection direction) => mode switch
    {
        AttachMode.Tcx => TcxLink.Create(program, ifIndex, direction == HookDirection.Ingress ? TcxDirection.Ingress : TcxDirection.Egress),
        AttachMode.Tc => TcAttachment.Attach(program, ifIndex, direction),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "tcx or tc: resolve auto with BpfFeatures.ChooseAttachMode first"),
    };

    /// <summary>"ingress" or "egress", for messages and pin names.</summary>
    public static string Word(HookDirection direction) => direction == HookDirection.Ingress ? "ingress" : "egress";
}
