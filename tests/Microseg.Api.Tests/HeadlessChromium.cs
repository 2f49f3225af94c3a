// Debian's Chromium, headless, driven by Debian's chromedriver through Selenium. Nothing is
// downloaded: both paths are given, so Selenium Manager is never asked to find a browser.
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Microseg.TestSupport;

namespace Microseg.Api.Tests;

/// <summary>A UI test: skipped (with the reason) when Chromium or chromedriver is not installed,
/// except in CI (CI=true), where it runs and fails instead.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (HeadlessChromium.Missing is { } why && !KernelProbe.InCi)
            Skip = $"browser test skipped: {why} (scripts/install-deps.sh installs it; CI=true turns this skip into a failure)";
    }
}

public sealed class HeadlessChromium : IDisposable
{
    public const string BrowserPath = "/usr/bin/chromium", DriverPath = "/usr/bin/chromedriver";

    private readonly TempDirectory profile = new("microseg-chromium-");
    private readonly ChromeDriverService service;

    public static string? Missing =>
        !File.Exists(BrowserPath) ? $"{BrowserPath} is missing (Debian package chromium)"
        : !File.Exists(DriverPath) ? $"{DriverPath} is missing (Debian package chromium-driver)"
        : null;

    public HeadlessChromium()
    {
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = BrowserPath };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            "--window-size=1440,960", $"--user-data-dir={profile.Path}");
        try
        {
            Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        }
        catch
        {
            service.Dispose();
            profile.Dispose();
            throw;
        }
    }

    public ChromeDriver Driver { get; }

    public IWebElement Find(string css) => Driver.FindElement(By.CssSelector(css));

    public IReadOnlyList<IWebElement> FindAll(string css) => Driver.FindElements(By.CssSelector(css));

    /// <summary>Polls until the condition holds; fails naming what it waited for.</summary>
    public void Until(string what, Func<bool> condition, double seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            try
            {
                if (condition()) return;
            }
            catch (Exception e) when (e is NoSuchElementException or StaleElementReferenceException) { }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"waited {seconds} s for {what}; the page says: {Driver.FindElement(By.TagName("body")).Text}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Saves a PNG under out/test-artifacts/ui/ and returns its path.</summary>
    public string Screenshot(string name)
    {
        var dir = Path.Combine(RepoPaths.Root, "out", "test-artifacts", "ui");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + ".png");
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    public void Dispose()
    {
        try { Driver.Quit(); }
        finally
        {
            Driver.Dispose();
            service.Dispose();
            profile.Dispose();
        }
    }
}
