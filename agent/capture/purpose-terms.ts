/**
 * The plain-words usage terms every stored image carries (xmpRights:UsageTerms), so any viewer
 * shows what the image may be used for. PIPL Art. 26: images collected in public places may be
 * used only to maintain public safety unless the person separately consents.
 */
export function purposeTerms(legalBasis: string): { zh: string; en: string; legalBasisText: string } {
  return {
    zh:
      `本图像在公共场所采集，仅用于维护公共安全（${legalBasis}）。` +
      '用于其他任何目的，须取得本人的单独同意。禁止用于营销、用户画像、人工智能模型训练或数据挖掘。',
    en:
      `Collected in a public place for public safety only (${legalBasis}). ` +
      'Any other use requires the separate consent of the person concerned. ' +
      'Not for marketing, profiling, AI model training or data mining.',
    legalBasisText: `Images collected in public places may be used only to maintain public safety (${legalBasis}).`,
  };
}
