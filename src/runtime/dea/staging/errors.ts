// Why a staging failed, with Cloud Foundry's error ids (docs/dea-protocol.md).
export type StagingErrorId =
  | 'NoAppDetectedError'
  | 'BuildpackCompileFailed'
  | 'BuildpackReleaseFailed'
  | 'StagingError'
  | 'NoSuchBuildpack'
  | 'StagingTimeExpired';

export class StagingFailure extends Error {
  constructor(
    readonly id: StagingErrorId,
    message: string,
  ) {
    super(message);
  }
}

/** Cloud Foundry's text for an app no buildpack detected. */
export const NO_APP_DETECTED = 'An app was not successfully detected by any available buildpack';
