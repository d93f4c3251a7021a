# Signs one file for the Windows bundles: tauri calls it through bundle.windows.signCommand for
# the app binary, the NSIS installer, the MSI and the uninstaller (%1 is the file).
#
# SEATLINE_WINDOWS_SIGN selects how:
#   trusted-signing  Azure Trusted Signing through `trusted-signing-cli` (cargo install
#                    trusted-signing-cli); needs AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
#                    AZURE_TENANT_ID and SEATLINE_TS_ENDPOINT, SEATLINE_TS_ACCOUNT,
#                    SEATLINE_TS_PROFILE (endpoint URL, signing account, certificate profile)
#   signtool         signtool.exe with a certificate in the machine's store (an EV token or a
#                    .pfx imported first): SEATLINE_WINDOWS_CERT_THUMBPRINT (SHA-1 thumbprint),
#                    SEATLINE_WINDOWS_TIMESTAMP_URL (RFC 3161 server of the CA)
#   (unset)          no signature, with a warning (development builds); set
#                    SEATLINE_REQUIRE_SIGNING=1 on release machines so that this fails instead
param([Parameter(Mandatory = $true)][string]$File)
$ErrorActionPreference = "Stop"

function Need([string]$Name) {
  $value = [Environment]::GetEnvironmentVariable($Name)
  if ([string]::IsNullOrEmpty($value)) { throw "sign.ps1: $Name is not set" }
  return $value
}

switch ($env:SEATLINE_WINDOWS_SIGN) {
  "trusted-signing" {
    Need "AZURE_CLIENT_ID" | Out-Null
    Need "AZURE_CLIENT_SECRET" | Out-Null
    Need "AZURE_TENANT_ID" | Out-Null
    & trusted-signing-cli -e (Need "SEATLINE_TS_ENDPOINT") -a (Need "SEATLINE_TS_ACCOUNT") `
      -c (Need "SEATLINE_TS_PROFILE") -d "Seatline" $File
  }
  "signtool" {
    & signtool.exe sign /fd SHA256 /sha1 (Need "SEATLINE_WINDOWS_CERT_THUMBPRINT") `
      /tr (Need "SEATLINE_WINDOWS_TIMESTAMP_URL") /td SHA256 /d "Seatline" $File
  }
  { [string]::IsNullOrEmpty($_) } {
    if ($env:SEATLINE_REQUIRE_SIGNING -eq "1") {
      throw "sign.ps1: SEATLINE_WINDOWS_SIGN is not set but SEATLINE_REQUIRE_SIGNING=1"
    }
    Write-Warning "sign.ps1: SEATLINE_WINDOWS_SIGN is not set; $File stays unsigned"
    exit 0
  }
  default { throw "sign.ps1: unknown SEATLINE_WINDOWS_SIGN '$($env:SEATLINE_WINDOWS_SIGN)'" }
}
if ($LASTEXITCODE -ne 0) { throw "sign.ps1: signing $File failed ($LASTEXITCODE)" }
