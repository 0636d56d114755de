// Package azure links the Azure Blob Storage driver of checkpoint
// storage, for azblob:// locations. Import it for its side effect:
//
//	import _ "github.com/sluicehq/sluice/checkpoint/storage/azure"
//
// A program that keeps checkpoints on local disk does not import it and
// links no Azure SDK. The sluice binary imports it. Credentials and URL
// parameters are those of gocloud.dev/blob/azureblob (the
// AZURE_STORAGE_ACCOUNT environment variable and the default Azure
// credential chain), e.g. "azblob://container/jobs/job1".
package azure

import _ "gocloud.dev/blob/azureblob" // registers azblob://
